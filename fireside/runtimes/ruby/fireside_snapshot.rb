# frozen_string_literal: true

# Snapshot starts (SnapStart) for Ruby, inside the sandbox: the same protocol as Fireside's
# Python runtime (fireside_snapshot.py), in Ruby. The template is the bootstrap after Init (the
# handler file required). For each request on the control socket (JSON with `tmp_bytes` and
# `seccomp` in hex, plus two descriptors: the environment's own socket and its output pipe) it
# forks; the child gives itself user, mount, network, PID, IPC and UTS namespaces nested in the
# template's sandbox, a fresh /tmp, and forks the runtime, PID 1 of its namespace, which mounts
# its /proc, brings up loopback, drops every capability, loads the strict seccomp filter and
# Landlock, sends its credentials (SCM_CREDENTIALS), waits (parked) for its variables, and serves.
# The intermediate child reports the runtime's exit status on the environment's socket.
#
# Standard library only (fiddle for the system calls Ruby has no method for).

require 'fiddle'
require 'json'
require 'socket'

module FiresideSnapshot
  CLONE_NEWNS = 0x00020000
  CLONE_NEWUTS = 0x04000000
  CLONE_NEWIPC = 0x08000000
  CLONE_NEWUSER = 0x10000000
  CLONE_NEWPID = 0x20000000
  CLONE_NEWNET = 0x40000000
  MS_NOSUID = 0x2
  MS_NODEV = 0x4
  MS_NOEXEC = 0x8
  MS_REC = 0x4000
  MS_PRIVATE = 1 << 18
  PR_SET_NO_NEW_PRIVS = 38
  PR_SET_SECCOMP = 22
  SECCOMP_MODE_FILTER = 2
  SIOCGIFFLAGS = 0x8913
  SIOCSIFFLAGS = 0x8914
  CAPSET = { 'x86_64' => 126, 'aarch64' => 91 }.freeze
  LANDLOCK_CREATE_RULESET = 444
  LANDLOCK_ADD_RULE = 445
  LANDLOCK_RESTRICT_SELF = 446

  LIBC = Fiddle.dlopen(nil)
  INT = Fiddle::TYPE_INT
  LONG = Fiddle::TYPE_LONG
  PTR = Fiddle::TYPE_VOIDP
  UNSHARE = Fiddle::Function.new(LIBC['unshare'], [INT], INT)
  MOUNT = Fiddle::Function.new(LIBC['mount'], [PTR, PTR, PTR, LONG, PTR], INT)
  PRCTL = Fiddle::Function.new(LIBC['prctl'], [INT, LONG, LONG, LONG, LONG], INT)
  SYSCALL = Fiddle::Function.new(LIBC['syscall'], [LONG, LONG, LONG, LONG], LONG)

  module_function

  def check(result, what)
    return if result.zero?

    raise SystemCallError.new(what, Fiddle.last_error)
  end

  def nest(tmp_bytes)
    uid = Process.uid
    gid = Process.gid
    check(UNSHARE.call(CLONE_NEWUSER), 'unshare(CLONE_NEWUSER)')
    File.write('/proc/self/setgroups', 'deny')
    File.write('/proc/self/uid_map', "#{uid} #{uid} 1")
    File.write('/proc/self/gid_map', "#{gid} #{gid} 1")
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    check(UNSHARE.call(flags), 'unshare(namespaces)')
    check(MOUNT.call(nil, '/', nil, MS_REC | MS_PRIVATE, nil), 'make / private')
    check(MOUNT.call('tmpfs', '/tmp', 'tmpfs', MS_NOSUID | MS_NODEV, "size=#{tmp_bytes},mode=1777"),
          'mount /tmp')
  end

  def settle_inside
    check(MOUNT.call('proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, nil), 'mount /proc')
    probe = Socket.new(:INET, :DGRAM)
    request = ['lo', 0].pack('a16s').ljust(40, "\0")
    probe.ioctl(SIOCGIFFLAGS, request)
    flags = request[16, 2].unpack1('s')
    probe.ioctl(SIOCSIFFLAGS, ['lo', flags | 1].pack('a16s').ljust(40, "\0"))
    probe.close
  end

  def drop_privileges(program)
    check(PRCTL.call(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 'prctl(NO_NEW_PRIVS)')
    header = [0x20080522, 0].pack('Li')
    data = "\0" * 24
    number = CAPSET.fetch(RbConfig::CONFIG['host_cpu']) { raise 'no capset number here' }
    check(SYSCALL.call(number, Fiddle::Pointer[header].to_i, Fiddle::Pointer[data].to_i, 0), 'capset')
    filter = program.dup
    fprog = [program.bytesize / 8].pack('S').ljust(8, "\0") + [Fiddle::Pointer[filter].to_i].pack('Q')
    check(PRCTL.call(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, Fiddle::Pointer[fprog].to_i, 0, 0), 'prctl(SECCOMP)')
  end

  # The rules of fireside_landlock.py: read and execute anywhere, write under /tmp, file writes
  # under /dev and /proc, and (ABI 6+) no signals or abstract sockets outside the domain.
  def landlock
    abi = SYSCALL.call(LANDLOCK_CREATE_RULESET, 0, 0, 1)
    return if abi <= 0

    all = (1 << 13) - 1
    all |= 1 << 13 if abi >= 2
    all |= 1 << 14 if abi >= 3
    all |= 1 << 15 if abi >= 5
    scoped = abi >= 6 ? 3 : 0
    attr = [all, 0, scoped].pack('QQQ')
    ruleset = SYSCALL.call(LANDLOCK_CREATE_RULESET, Fiddle::Pointer[attr].to_i, abi >= 6 ? 24 : 8, 0)
    raise SystemCallError.new('landlock_create_ruleset', Fiddle.last_error) if ruleset.negative?

    read = 1 | 4 | 8
    file_writes = 2 | 4 | (all & ((1 << 14) | (1 << 15)))
    [['/', read], ['/tmp', all], ['/dev', read | file_writes], ['/proc', read | file_writes]].each do |path, allowed|
      fd = IO.sysopen(path, File::RDONLY | 0o10000000) # O_PATH
      rule = [allowed, fd].pack('Qi')
      check(SYSCALL.call(LANDLOCK_ADD_RULE, ruleset, 1, Fiddle::Pointer[rule].to_i), "landlock_add_rule(#{path})")
      IO.for_fd(fd).close
    end
    check(SYSCALL.call(LANDLOCK_RESTRICT_SELF, ruleset, 0, 0), 'landlock_restrict_self')
    IO.for_fd(ruleset).close
  end

  # The template's loop: one environment per request, until Fireside closes the socket.
  def serve_forks(control, &become)
    Signal.trap('CLD', 'IGNORE') # intermediates are reaped by the kernel
    loop do
      message, _addr, _flags, *controls = control.recvmsg(65_536, 0, nil, scm_rights: true)
      exit!(0) if message.nil? || message.empty?
      own, output = controls.first.unix_rights
      request = JSON.parse(message)
      fork { intermediate(request, own, output, control, &become) }
      own.close
      output.close
    end
  end

  def intermediate(request, own, output, control, &become)
    control.close
    status = 1
    begin
      Signal.trap('CLD', 'DEFAULT')
      Process.setsid
      nest(Integer(request.fetch('tmp_bytes', 512 * 1024 * 1024)))
      program = [request.fetch('seccomp')].pack('H*')
      child = fork { environment(own, output, program, &become) }
      _, process_status = Process.wait2(child)
      status = process_status.exitstatus || -(process_status.termsig || 9)
    rescue Exception => e # report, never fall back into the template's loop
      warn "fireside snapshot: could not make an environment: #{e.message}"
    end
    own.write(JSON.generate('exit' => status) + "\n")
  ensure
    exit!(0)
  end

  def environment(own, output, program, &become)
    settle_inside
    $stdout.reopen(output)
    $stderr.reopen(output)
    output.close
    # Parked until a start takes it: restricted before it reports ready, so that a start
    # waits only for the restore.
    drop_privileges(program)
    landlock if ENV['FIRESIDE_LANDLOCK'] == '1'
    credentials = [Process.pid, Process.uid, Process.gid].pack('i3')
    own.sendmsg("{\"ready\": true}\n", 0, nil, [:SOCKET, :CREDENTIALS, credentials])
    env = nil
    while env.nil? # `{"network": true}` (its network is served) comes first: nothing to do
      line = own.gets
      exit!(0) if line.nil? # Fireside gave up on this environment
      env = JSON.parse(line)['env']
    end
    own.close
    become.call(env)
    exit!(0)
  rescue Exception => e
    warn "fireside snapshot: could not restore an environment: #{e.message}"
    exit!(1)
  end
end

# frozen_string_literal: true

# Fireside's runtime for ruby3.x functions: the process inside each execution environment.
#
# Started as `ruby bootstrap.rb`, it requires the function's handler file, then serves
# invocations over the Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API, and behaves for the
# function author like AWS's managed Ruby runtime: handlers `file.method` and
# `file.Module::Class.method` called with `event:` and `context:`, the same `context` object,
# error types (`Function<ArgumentError>`, `Init<LoadError>`), error bodies and log lines, and
# Logger lines carrying the request id.
#
# Standard library only, and on every cold start's path: it speaks HTTP/1.1 over a TCPSocket
# itself, because net/http (with uri) takes about 20 ms to require and socket about 2.

require 'json'
require 'logger'
require 'socket'

$stdout.sync = true

# What a function can load is what Lambda's Ruby has: GEM_PATH (the runtime's), then GEM_HOME,
# where Lambda's Ruby keeps its bundled gems (rexml, which the AWS SDK needs, rake, minitest...).
# A distribution's Ruby has another GEM_HOME (Debian's /var/lib/gems, where `gem install` puts
# the host's gems) and keeps its bundled gems in Ruby's own gem directory, which becomes
# GEM_HOME. Its other default directories (Debian's rubygems-integration, holding the gems of
# apt's ruby-* packages) and the site and vendor directories of $LOAD_PATH (Debian's
# /usr/lib/ruby/vendor_ruby) hold host libraries AWS's image lacks, so they go. RubyGems itself,
# which Debian's Ruby loaded from vendor_ruby before this line, stays loaded.
own_gems = File.join(RbConfig::CONFIG['rubylibprefix'], 'gems', RbConfig::CONFIG['ruby_version'])
Gem.use_paths(own_gems, Gem.path - [Gem.dir])
host_dirs = %w[sitedir sitearchdir vendordir vendorarchdir].filter_map { |key| RbConfig::CONFIG[key] }
$LOAD_PATH.reject! { |path| host_dirs.any? { |dir| path == dir || path.start_with?("#{dir}/") } }

# The handler's `context`: details of the invocation, the function and its environment.
class LambdaContext
  attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
              :function_name, :memory_limit_in_mb, :function_version, :identity, :tenant_id,
              :client_context, :deadline_ms

  def initialize(headers)
    @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
    @aws_request_id = headers['lambda-runtime-aws-request-id']
    @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
    @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
    @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
    @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
    # A string, as AWS's runtime passes the environment variable through unconverted.
    @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
    @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
    @identity = parse(headers['lambda-runtime-cognito-identity'])
    @tenant_id = present(headers['lambda-runtime-aws-tenant-id'])
    @client_context = parse(headers['lambda-runtime-client-context'])
  end

  def get_remaining_time_in_millis
    remaining = @deadline_ms - Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
    remaining.positive? ? remaining : 0
  end

  private

  def present(value)
    value.nil? || value.empty? ? nil : value
  end

  def parse(value)
    present(value) && JSON.parse(value)
  end
end

module FiresideRuntime
  RUNTIME = '/2018-06-01/runtime'
  NEXT = "#{RUNTIME}/invocation/next".freeze
  # A result larger than this is sent alone: one the Runtime API may refuse (413) is followed
  # by no request for another event (well under any response limit).
  PIPELINE_LIMIT = 1 << 20
  ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type'
  HERE = __dir__
  # Exception classes whose name AWS's runtime puts in the error-type header; any other is
  # reported there as `Function<UserException>` (the body always names the real class).
  NAMED_IN_HEADER = %w[ArgumentError NoMethodError Exception StandardError NameError LoadError
                       SystemExit SystemStackError].freeze

  # A minimal HTTP/1.1 keep-alive client for the Runtime API, on one TCPSocket.
  class RuntimeApi
    def initialize(address)
      host, _, port = address.rpartition(':')
      raise ArgumentError, "bad AWS_LAMBDA_RUNTIME_API #{address.inspect}" unless
        !host.empty? && port.match?(/\A\d+\z/)

      @host = host.delete_prefix('[').delete_suffix(']')
      @port = port.to_i
      @common = "Host: #{address}\r\nUser-Agent: fireside-ruby/#{RUBY_VERSION}\r\n"
      @socket = nil
      @buffer = String.new(encoding: Encoding::BINARY)
      # Reads land in this one string: a fresh 256 KiB string per read is an mmap, a munmap
      # and page faults on every invoke.
      @chunk = String.new(capacity: 262_144, encoding: Encoding::BINARY)
      # The answer to the `/next` pipelined behind the last result, once read: see `request`.
      @then = nil
    end

    # The answer to the `/next` sent behind the last result ([status, headers, body]), or nil
    # (none was sent, or its connection closed before it: the caller asks again).
    def take_pipelined
      answer = @then
      @then = nil
      answer
    end

    # [status, headers (lower-case names), body]. With `then` (a path), a GET of it leaves in
    # the same write and its answer is read after this one's, for `take_pipelined`: one wake-up
    # of this process per invoke instead of two (the Runtime API answers both in one write).
    def request(method, path, body = nil, headers = {}, then_get = nil)
      head = +"#{method} #{path} HTTP/1.1\r\n#{@common}"
      headers.each { |name, value| head << "#{name}: #{value}\r\n" }
      head << "Content-Length: #{body.bytesize}\r\n" if body
      message = (head << "\r\n").b
      message << body.b if body
      message << "GET #{then_get} HTTP/1.1\r\n#{@common}\r\n".b if then_get
      begin
        fresh = @socket.nil?
        @socket ||= connect
        @answered = false
        @socket.write(message)
        first = read_response
        read_pipelined if then_get && (200..299).cover?(first[0]) && @socket
        first
      rescue SystemCallError, IOError
        close
        # A kept-alive connection the server has since dropped fails before any byte of the
        # answer arrives: only that is retried, once, on a new connection.
        raise if fresh || @answered

        retry
      end
    end

    private

    def read_pipelined
      @answered = false
      @then = read_response
    rescue SystemCallError, IOError
      # Closed after the first answer, before any byte of the second: the pipelined request
      # went with the connection; the next `/next` asks again on a new one.
      raise if @answered

      close
    end

    def connect
      socket = TCPSocket.new(@host, @port)
      # Each request leaves in one write; Nagle plus delayed ACKs could still stall it 40 ms.
      socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
      socket
    end

    def close
      @socket&.close
      @socket = nil
      @buffer.clear
    end

    def fill
      @buffer << @socket.readpartial(262_144, @chunk) # EOFError (an IOError) when the peer closes
      @answered = true
    end

    def take(size)
      fill while @buffer.bytesize < size
      @buffer.slice!(0, size)
    end

    def line(separator = "\r\n")
      fill until (index = @buffer.index(separator))
      text = @buffer.slice!(0, index)
      @buffer.slice!(0, separator.bytesize)
      text
    end

    def read_response
      status_line, *lines = line("\r\n\r\n").split("\r\n")
      status = status_line.split(' ', 3)[1].to_i
      headers = lines.to_h do |header|
        name, value = header.split(':', 2)
        [name.strip.downcase, value.to_s.strip]
      end
      body = if headers['transfer-encoding'].to_s.downcase.include?('chunked')
               read_chunks
             else
               take(headers['content-length'].to_i)
             end
      close if headers['connection'].to_s.casecmp?('close')
      [status, headers, body]
    end

    def read_chunks
      body = String.new(encoding: Encoding::BINARY)
      while (size = line.split(';').first.to_i(16)).positive?
        body << take(size)
        take(2)
      end
      nil until line.empty? # trailers, up to the blank line
      body
    end
  end

  # Logger lines as AWS's runtime formats them for a logger on stdout or stderr: with the
  # current request id. (AWS's frames each line; here a line ends with a newline.)
  class LogFormatter < Logger::Formatter
    FORMAT = "%<sev>s, [%<datetime>s #%<process>d] %<severity>5s %<request_id>s -- %<progname>s: %<msg>s\n"

    def call(severity, time, progname, msg)
      format(FORMAT, sev: severity[0], datetime: format_datetime(time), process: Process.pid,
                     severity: severity, request_id: $_global_aws_request_id, progname: progname,
                     msg: msg2str(msg)).encode('UTF-8')
    end
  end

  # Under AWS_LAMBDA_LOG_FORMAT=JSON: one JSON object a line, with the fields AWS's runtime
  # writes (timestamp to the microsecond, level, message, requestId, logger when named; for an
  # exception also errorType, errorMessage, stackTrace and location).
  class JsonLogFormatter < Logger::Formatter
    FRAME = /\A(?<file>.+):(?<line>\d+):in [`'](?<method>.+)'\z/

    def call(severity, time, progname, msg)
      record = { timestamp: time.utc.strftime('%Y-%m-%dT%H:%M:%S.%6NZ'), level: severity,
                 message: utf8(msg.is_a?(Exception) ? msg.message : msg2str(msg)),
                 requestId: $_global_aws_request_id }
      record[:logger] = utf8(progname) unless progname.nil? || progname.to_s.empty?
      if msg.is_a?(Exception)
        backtrace = Array(msg.backtrace).map { |line| utf8(line) }
        record.merge!(errorType: msg.class.to_s, errorMessage: utf8(msg.message),
                      stackTrace: backtrace)
        first = backtrace.first
        found = first && FRAME.match(first)
        record[:location] = found ? "#{found[:file]}:#{found[:method]}:#{found[:line]}" : first
      end
      "#{JSON.generate(record.compact)}\n"
    end

    private

    def utf8(value)
      value.to_s.encode('UTF-8', invalid: :replace, undef: :replace, replace: "\uFFFD")
    end
  end

  # A Logger on stdout or stderr gets the runtime's formatter and, unless the function names
  # one, the level of AWS_LAMBDA_LOG_LEVEL (TRACE is DEBUG: Logger has nothing below it).
  module LoggerPatch
    LEVELS = { 'TRACE' => Logger::DEBUG, 'DEBUG' => Logger::DEBUG, 'INFO' => Logger::INFO,
               'WARN' => Logger::WARN, 'ERROR' => Logger::ERROR, 'FATAL' => Logger::FATAL }.freeze

    def initialize(logdev, *args, **options)
      if logdev.nil? || [$stdout, $stderr].include?(logdev)
        json = ENV.fetch('AWS_LAMBDA_LOG_FORMAT', '').upcase == 'JSON'
        options[:formatter] ||= json ? JsonLogFormatter.new : LogFormatter.new
        level = LEVELS[ENV.fetch('AWS_LAMBDA_LOG_LEVEL', '').upcase]
        options[:level] = level if level && !options.key?(:level)
      end
      super
    end
  end
  Logger.prepend(LoggerPatch)

  # An error as AWS's runtime reports it: `<phase><ExceptionClass>` and its frames up to the
  # runtime's own.
  class Failure
    attr_reader :body, :header_type

    def initialize(error, phase)
      type = "#{phase}<#{error.class}>"
      frames = (error.backtrace_locations || []).first(100).map(&:to_s)
      @body = { errorMessage: error.message, errorType: type,
                stackTrace: frames.take_while { |frame| !frame.start_with?(HERE) } }
      @header_type = NAMED_IN_HEADER.include?(error.class.to_s) ? type : 'Function<UserException>'
    end

    def log(heading)
      $stdout.puts heading
      $stdout.puts JSON.pretty_generate(@body)
    end
  end

  # `file.method` or `file.Module::Class.method`.
  class Handler
    attr_reader :file

    def initialize(spec)
      parts = spec.split('.')
      case parts.size
      when 2 then @file, @method = parts
      when 3 then @file, @class, @method = parts
      else
        raise ArgumentError, "Invalid handler #{parts}, must be of form FILENAME.METHOD or " \
                             'FILENAME.CLASS.METHOD where FILENAME corresponds with an existing ' \
                             'Ruby source file FILENAME.rb, CLASS is an optional module/class ' \
                             'namespace and METHOD is a callable method. If using CLASS, ' \
                             'METHOD must be a class-level method.'
      end
    end

    def call(event, context)
      target = @class ? Kernel.const_get(@class) : TOPLEVEL_BINDING.receiver
      target.__send__(@method, event: event, context: context)
    end
  end

  module_function

  def die(message)
    warn "fireside bootstrap: #{message}"
    exit!(1)
  end

  def exchange(api, method, path, body = nil, headers = {}, then_get = nil)
    status, response_headers, response_body = api.request(method, path, body, headers, then_get)
    # 413: the response was too large; Fireside has already failed the invocation.
    die("#{path}: HTTP #{status} #{response_body[0, 500]}") unless (200..299).cover?(status) || status == 413
    [response_headers, response_body]
  rescue SystemCallError, IOError => e
    die("#{path} failed: #{e.inspect}")
  end

  def marshal(result)
    return [result.read, 'application/unknown'] if result.is_a?(IO) || (defined?(StringIO) && result.is_a?(StringIO))

    [result.to_json, 'application/json']
  end

  # The next invocation: the answer to the `/next` sent behind the last result, if any.
  def next_event(api)
    answer = api.take_pipelined
    return exchange(api, 'GET', NEXT) unless answer

    status, headers, body = answer
    die("#{NEXT}: HTTP #{status} #{body[0, 500]}") unless (200..299).cover?(status)
    [headers, body]
  end

  # `/next`, to send behind a result of `body`: not behind one the Runtime API may refuse as
  # too large (this process then goes on to ask again itself).
  def pipelined(body)
    body.bytesize <= PIPELINE_LIMIT ? NEXT : nil
  end

  # Serves one invocation; false once the runtime must stop (after a critical error).
  def invoke(api, handler)
    headers, body = next_event(api)
    request_id = headers['lambda-runtime-aws-request-id'] or die('/next answered without a request id')
    $_global_aws_request_id = request_id
    trace_id = headers['lambda-runtime-trace-id']
    ENV['_X_AMZN_TRACE_ID'] = trace_id if trace_id
    path = "#{RUNTIME}/invocation/#{request_id}"
    begin
      event = headers['content-type'] == 'application/json' ? JSON.parse(body.force_encoding('UTF-8')) : body
      payload, content_type = marshal(handler.call(event, LambdaContext.new(headers)))
    rescue Exception => e # exit, stack overflow... are the handler's errors too
      # As in AWS's runtime, anything but a StandardError ends the runtime, and so does a
      # NameError (a missing handler method among them).
      critical = !e.is_a?(StandardError) || e.is_a?(NameError)
      failure = Failure.new(e, 'Function')
      failure.log(critical ? 'Critical exception from handler' : 'Error raised from handler method')
      error = JSON.generate(failure.body)
      # After a critical error this process exits: it must not have asked for another event.
      exchange(api, 'POST', "#{path}/error", error, { ERROR_TYPE => failure.header_type },
               critical ? nil : pipelined(error))
      return !critical
    end
    exchange(api, 'POST', "#{path}/response", payload, { 'Content-Type' => content_type },
             pipelined(payload))
    true
  end

  # SnapStart: run Init once, then make environments from this process on request.
  def template(fd)
    require_relative 'fireside_snapshot'
    control = UNIXSocket.for_fd(fd)
    task_root = ENV['LAMBDA_TASK_ROOT'] || Dir.pwd
    $LOAD_PATH.unshift(task_root) unless $LOAD_PATH.include?(task_root)
    begin
      handler = Handler.new(ENV['_HANDLER'].to_s)
      require handler.file
    rescue Exception => e # a handler file may raise anything
      control.write(JSON.generate('init_error' => Failure.new(e, 'Init').body) + "\n")
      exit!(1)
    end
    $stdout.flush
    control.write("{\"ready\": true}\n")
    FiresideSnapshot.serve_forks(control) do |env|
      ENV.replace(env)
      api = RuntimeApi.new(ENV['AWS_LAMBDA_RUNTIME_API'])
      nil while invoke(api, handler)
      exit(-1)
    end
  end

  def main
    snapshot_fd = ENV.delete('FIRESIDE_SNAPSHOT_FD')
    template(Integer(snapshot_fd)) if snapshot_fd
    address = ENV['AWS_LAMBDA_RUNTIME_API'] or die('AWS_LAMBDA_RUNTIME_API is not set')
    api = RuntimeApi.new(address)
    task_root = ENV['LAMBDA_TASK_ROOT'] || Dir.pwd
    $LOAD_PATH.unshift(task_root) unless $LOAD_PATH.include?(task_root)
    begin
      handler = Handler.new(ENV['_HANDLER'].to_s)
      require handler.file
    rescue Exception => e # a handler file may raise anything
      failure = Failure.new(e, 'Init')
      # AWS's runtime names no handler here (its variable is never set): the same line.
      failure.log('Init error when loading handler ')
      exchange(api, 'POST', "#{RUNTIME}/init/error", JSON.generate(failure.body),
               ERROR_TYPE => failure.header_type)
      exit(-4)
    end
    nil while invoke(api, handler)
    exit(-1) # after a critical error, as AWS's runtime
  end
end

FiresideRuntime.main

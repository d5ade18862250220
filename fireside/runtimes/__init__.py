"""Language runtimes that Fireside runs inside execution environments, one subpackage each."""

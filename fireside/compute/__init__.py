"""Lambda: functions, their execution environments and invocations."""

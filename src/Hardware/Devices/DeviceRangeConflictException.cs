namespace Actorvisor.Hardware.Devices;

/// <summary>A device registration that overlaps a range another device already owns.</summary>
public sealed class DeviceRangeConflictException(string message) : InvalidOperationException(message);

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// One saved state blob a restore loads into a new machine (a vCPU's, the platform's or a device's): where it came
/// from (<paramref name="Origin"/>: a snapshot's file name, a part of a migration stream), how to read it, and for a
/// device the device's name. <see cref="SnapshotRestore.Assemble"/> names the origin when a component refuses it.
/// </summary>
public sealed record SavedState(string Origin, Func<byte[]> Read, string? DeviceName = null);

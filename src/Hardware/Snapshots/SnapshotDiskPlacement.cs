using Actorvisor.Hardware.Machines;

namespace Actorvisor.Hardware.Snapshots;

/// <summary>
/// Where a restore opens the image of a disk a snapshot names (<see cref="SnapshotDiskEntry"/>: an absolute host path):
/// a node confines it to its image directories (a <see cref="VirtioDiskSpec"/> relative to one of them, opened beneath
/// it), as it confines a created VM's disks; without a placement the recorded path is trusted (a local run, a test).
/// </summary>
/// <exception cref="SnapshotException">the disk may not be opened from where the snapshot says it is; the message names it.</exception>
public delegate VirtioDiskSpec SnapshotDiskPlacement(SnapshotDiskEntry disk);

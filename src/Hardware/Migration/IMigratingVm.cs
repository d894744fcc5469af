using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The running VM a pre-copy migration moves, as its owner (a test's vCPU thread, the actor runtime's VmActor) lets
/// the migration see it: its parts and name, and how to stop and restart its vCPUs. The migration reads memory while
/// the vCPUs run, and the vCPU, platform and device state only between <see cref="Pause"/> and <see cref="Resume"/>.
/// </summary>
public interface IMigratingVm
{
    /// <summary>The VM's name (the target's VM gets it).</summary>
    string Name { get; }

    /// <summary>The machine: its accelerator VM (memslots, dirty log), memory regions and devices.</summary>
    MachineParts Parts { get; }

    /// <summary>
    /// Stops every vCPU and returns the VM's state as a snapshot would save it (<see cref="SnapshotContent.Of"/>). When it
    /// returns no vCPU runs, and none does until <see cref="Resume"/>.
    /// </summary>
    SnapshotContent Pause();

    /// <summary>Runs the vCPUs again after a <see cref="Pause"/> (the migration failed before switchover).</summary>
    void Resume();
}

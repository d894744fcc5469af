using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Memslots;
using Actorvisor.Actors.Vcpu;
using Akka.Actor;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// What a <see cref="VmBuilder"/> made of a VM: its hardware (<see cref="VmParts"/>, the devices to release)
/// and the child actors and vCPU threads running it. The VmActor routes requests to the children; its
/// <see cref="VmTeardown"/> releases all of it. Before the children are started only the hardware is set.
/// </summary>
internal sealed class BuiltVm
{
    /// <summary>The VM's name.</summary>
    public required string Name { get; init; }

    /// <summary>The hardware from the spec's builder.</summary>
    public required VmParts Parts { get; init; }

    /// <summary>The devices released in the teardown: those of the spec, then the KVM-VFIO device (kvm_destroy_devices).</summary>
    public required IReadOnlyList<VmDevice> Devices { get; init; }

    /// <summary>The memslot table the MemslotSetActor writes (null before the children are started).</summary>
    public MemslotTable? MemslotTable { get; init; }

    /// <summary>The vCPU run loops (their threads), by index.</summary>
    public IReadOnlyList<VcpuRunLoop> Loops { get; init; } = [];

    /// <summary>The VcpuActors, by index.</summary>
    public IReadOnlyList<IActorRef> Vcpus { get; init; } = [];

    /// <summary>The MemslotSetActor.</summary>
    public IActorRef? Memslots { get; init; }

    /// <summary>The AsyncPfActor (only with lazy memory).</summary>
    public IActorRef? AsyncPf { get; init; }

    /// <summary>The KvmVfioDeviceActor.</summary>
    public IActorRef? Vfio { get; init; }

    /// <summary>The actors of <see cref="Devices"/> (the spec's DeviceActors, then the KvmVfioDeviceActor).</summary>
    public IReadOnlyList<IActorRef> DeviceActors { get; init; } = [];
}

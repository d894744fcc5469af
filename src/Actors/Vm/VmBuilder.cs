using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Devices;
using Actorvisor.Actors.Memslots;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vfio;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.Vfio;
using Akka.Actor;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// Builds a VM for its VmActor: the spec's hardware, the VFIO files attached, then the children (memslot
/// writer, async page-fault actors, one VcpuActor per parked vCPU thread, device actors, the KVM-VFIO device
/// actor). Either everything is built and started, or what was built is released in the teardown's order.
/// </summary>
internal static class VmBuilder
{
    /// <summary>
    /// Builds <paramref name="spec"/> under <paramref name="context"/> (the VmActor's), its console writing to
    /// <paramref name="console"/> and its memslots published through <paramref name="view"/>. Returns null with
    /// <paramref name="failure"/> set if the VM cannot be built; nothing of it then remains.
    /// </summary>
    public static BuiltVm? Build(VmActorSpec spec, IActorContext context, ConsoleRelay console, MemslotView view, out VmCreateFailed? failure)
    {
        failure = null;
        VmParts parts;
        try
        {
            parts = spec.Build(new VmBuildContext(spec.Name, console, view));
        }
        catch (Exception e)
        {
            failure = new VmCreateFailed(spec.Name, e.Message);
            return null;
        }
        var createVfio = spec.KvmVfioDevice ?? (v => KvmVfioDevices.Create(v));
        var vfio = new VfioAttachments(() => createVfio(parts.Vm));
        var hardware = new BuiltVm
        {
            Name = spec.Name,
            Parts = parts,
            Devices = [.. parts.Devices, new VmDevice(KvmVfioDeviceActor.DeviceName, vfio)],
        };
        foreach (var path in spec.VfioFiles)
        {
            if (vfio.Attach(path) is not { } error) continue;
            // Nothing has started yet: release what was built, in the teardown's order, and report the file.
            VmTeardown.ReleaseUnstarted(hardware, context);
            failure = new VmCreateFailed(spec.Name, error.Message, new VmError.VfioRefused(error));
            return null;
        }
        return StartChildren(hardware, context, view, vfio);
    }

    // On the vCPU thread, before its first guest entry: into the VM's CPU-limit group, and known to the async-PF router by its id.
    private static Action<int>? ThreadStarted(VmParts parts, int vcpu)
    {
        var group = parts.VcpuThreads;
        var router = parts.AsyncPf;
        if (group is null && router is null) return null;
        return tid =>
        {
            group?.Add(tid);
            router?.BindVcpuThread(vcpu, tid);
        };
    }

    private static BuiltVm StartChildren(BuiltVm hardware, IActorContext context, MemslotView view, VfioAttachments vfio)
    {
        var parts = hardware.Parts;
        var gracePeriod = new GracePeriod();
        var memslotTable = new MemslotTable(parts.Vm, view, gracePeriod);
        view.Publish(parts.Vm.Memslots);
        var router = parts.AsyncPf;
        // Every vCPU of this build counts into one run: a VM's exit count is its current run's (HardwareMeter.CurrentRuns).
        long run = Hardware.Metrics.HardwareMeter.NewRun();
        var loops = parts.RunnableVcpus
            .Select(cpu => new VcpuRunLoop(cpu, parts.ExitHandler, $"{hardware.Name}/vcpu{cpu.Id}", parts.EffectiveFlushTlb,
                ThreadStarted(parts, cpu.Id), new Hardware.Metrics.VcpuExitCounters(hardware.Name, cpu, run)))
            .ToArray();
        foreach (var loop in loops) loop.JoinGracePeriod(gracePeriod);
        var memslots = context.Watch(context.ActorOf(MemslotSetActor.Props(memslotTable), "memslots"));
        // Before the vCPU threads can run: their faults on lazy memory go to these actors.
        var asyncPf = router is null ? null : context.Watch(context.ActorOf(AsyncPfActor.Props(router, hardware.Name), "async-pf"));
        // Software-accelerator vCPUs tell a guest that enabled async page faults "page not present" and fetch through it.
        if (router is not null && asyncPf is not null)
            foreach (var soft in parts.RunnableVcpus.OfType<SoftVcpu>()) GuestPageNotPresentFetcher.Attach(soft, router, asyncPf);
        var vcpus = loops.Select(l => context.Watch(context.ActorOf(VcpuActor.Props(l), $"vcpu-{l.Id}"))).ToArray();
        // The threads start parked; their events and replies carry their VcpuActor as sender.
        for (int i = 0; i < loops.Length; i++) loops[i].Start(vcpus[i]);
        var devices = parts.Devices
            .Select((d, i) => context.Watch(context.ActorOf(
                d.Device is VirtioMmioTransport virtio ? VirtioDeviceActor.Props(d, virtio) : DeviceActor.Props(d),
                $"device-{i}-{Uri.EscapeDataString(d.Name)}")))
            .ToList();
        var vfioActor = context.Watch(context.ActorOf(KvmVfioDeviceActor.Props(hardware.Name, vfio), KvmVfioDeviceActor.DeviceName));
        return new BuiltVm
        {
            Name = hardware.Name,
            Parts = parts,
            Devices = hardware.Devices,
            MemslotTable = memslotTable,
            Loops = loops,
            Vcpus = vcpus,
            Memslots = memslots,
            AsyncPf = asyncPf,
            Vfio = vfioActor,
            DeviceActors = [.. devices, vfioActor],
        };
    }
}

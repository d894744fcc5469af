using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Memslots;

namespace Actorvisor.Actors.Vm;

/// <summary>
/// What a <see cref="VmActor"/> reports of its VM in any state: its description, its async page-fault counters, and
/// the console output waiting in its relay (published to its event feed). Owned by the actor and used only from its
/// thread; <paramref name="vm"/> gives the built VM (none until built, or if the build failed).
/// </summary>
internal sealed class VmReports(VmActorSpec spec, Func<BuiltVm?> vm, MemslotView view, ConsoleRelay console, VmEventFeed events)
{
    /// <summary>The VM's description in <paramref name="state"/>, with its outcome once it ended.</summary>
    public VmDescription Describe(VmState state, VmOutcome? outcome) => new(
        spec.Name, state, spec.VcpuCount, spec.MemoryBytes, spec.Description,
        vm()?.Parts.Devices.Select(d => d.Name).ToList() ?? [], view.Current.Count, outcome);

    /// <summary>The answer to <see cref="GetAsyncPfCounters"/>: the counters, or a refusal if the VM has no lazy memory.</summary>
    public object AsyncPfCounters() => vm()?.Parts.AsyncPf is { } router
        ? router.Report(spec.Name)
        : new VmRequestFailed(spec.Name, new VmError.LazyMemoryRefused("the VM has no lazy memory"));

    /// <summary>Publishes the console output the relay holds, if any.</summary>
    public void PublishConsole()
    {
        var bytes = console.Drain();
        if (bytes.Length > 0) events.Publish(new VmConsoleOutput(spec.Name, bytes), toParent: false);
    }
}

using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vcpu;
using Actorvisor.Actors.Vfio;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.X86;
using Actorvisor.Host.Scenarios.Devices;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Steps;
using Akka.Actor;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// A VM on an <see cref="InProcessNode"/>, driven through its <see cref="VmSession"/> (the VmActor's protocol). A VM
/// restored from a snapshot has no <see cref="MemoryWitness"/>: its memory is readable while it holds it, not after.
/// </summary>
internal sealed class InProcessVm(
    VmDeclaration declaration,
    VmSession session,
    VmObservation observation,
    string acceleratorDescription,
    IReadOnlyDictionary<string, CrashablePortDevice> crashable,
    MemoryWitness? witness,
    TimeSpan requestTimeout) : IScenarioVm
{
    // RFLAGS.TF: the CPU raises #DB after the next instruction (Intel SDM vol. 3, 17.3.1.4).
    private const ulong TrapFlag = 1UL << 8;

    /// <inheritdoc />
    public VmDeclaration Declaration { get; } = declaration;

    /// <inheritdoc />
    public VmObservation Observation { get; } = observation;

    /// <inheritdoc />
    public string AcceleratorDescription { get; } = acceleratorDescription;

    /// <inheritdoc />
    public string NodeName => Declaration.Node;

    /// <summary>The store of the VM's lazy memory (a slow wrapper the store faults change), or null.</summary>
    public SlowBackingStore? LazyStore { get; init; }

    /// <summary>The router of the VM's async page faults once the VM was built, or null.</summary>
    public AsyncPfRouter? AsyncPf { get; init; }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Request(session.StartAsync(), cancellationToken);

    /// <inheritdoc />
    public Task PauseAsync(CancellationToken cancellationToken) => Request(session.PauseAsync(), cancellationToken);

    /// <inheritdoc />
    public Task ResumeAsync(CancellationToken cancellationToken) => Request(session.ResumeAsync(), cancellationToken);

    /// <summary>The path of snapshot NAME in its node's snapshot directory (created on first use).</summary>
    public required Func<string, string> SnapshotPath { get; init; }

    /// <inheritdoc />
    public async Task<string> SnapshotAsync(string name, bool resume, CancellationToken cancellationToken)
    {
        var path = SnapshotPath(name);
        if (Directory.Exists(path)) throw new VmRequestRefusedException($"snapshot '{name}' already exists on node {NodeName} ({path})");
        var written = await Ask<VmSnapshotted>(new SnapshotVm(path, resume), cancellationToken).ConfigureAwait(false);
        return SnapshotSteps.Detail(written.MemoryBytes, written.BytesOnDisk, (long)written.Took.TotalMilliseconds);
    }

    /// <inheritdoc />
    public Task<string> MigrateAsync(string? to, TimeSpan? maxDowntime, CancellationToken cancellationToken) =>
        throw new VmRequestRefusedException($"VM {Declaration.Name} is on in-process node {NodeName}: only VMs of cluster nodes migrate (between nodes of one cluster)");

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Request(session.StopAsync(), cancellationToken);

    /// <inheritdoc />
    public async Task DestroyAsync(CancellationToken cancellationToken)
    {
        await Request(session.DestroyAsync(), cancellationToken).ConfigureAwait(false);
        Observation.OnState(VmStateName.Destroyed);
    }

    /// <inheritdoc />
    public async Task InjectFaultAsync(InjectFaultStep fault, CancellationToken cancellationToken)
    {
        switch (fault.Fault)
        {
            case FaultKind.CrashDevice:
                crashable[fault.Device!].Crash();
                break;
            case FaultKind.TripleFault:
                await TripleFaultAsync(cancellationToken).ConfigureAwait(false);
                break;
            case FaultKind.SlowStore:
                Store().Latency = fault.Delay!.Value;
                break;
            case FaultKind.FailingStore:
                Store().FailEveryRead("the store is failing (injected by the scenario)");
                break;
            default:
                throw new NotSupportedException($"fault {fault.Fault.YamlName()} is not supported by node kind 'in-process'");
        }
    }

    private SlowBackingStore Store() => LazyStore ?? throw new VmRequestRefusedException($"vm '{Declaration.Name}' has no lazy memory");

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, long>> AsyncPfCountersAsync(CancellationToken cancellationToken)
    {
        // Read from the router itself, which outlives the VM actor, so that a destroyed VM can still be checked.
        var router = AsyncPf ?? throw new VmRequestRefusedException($"vm '{Declaration.Name}' has no lazy memory");
        var r = router.Report(Declaration.Name);
        long Sum(Func<AsyncPfVcpuCounters, long> counter) => r.Vcpus.Sum(counter);
        IReadOnlyDictionary<string, long> counters = new Dictionary<string, long>
        {
            ["faults"] = r.Faults,
            ["async"] = r.Async,
            ["sync"] = r.SyncFallbacks,
            ["joined"] = Sum(v => v.Joined),
            ["readahead"] = Sum(v => v.Readahead),
            ["failed"] = Sum(v => v.Failed),
            ["cancelled"] = Sum(v => v.Cancelled),
            ["outstanding"] = Sum(v => v.Outstanding),
            ["live-workers"] = r.LiveWorkers,
            ["running-fetches"] = r.RunningFetches,
            ["installs-after-unmap"] = r.InstallsAfterUnmap,
        };
        return Task.FromResult(counters);
    }

    // Pauses the VM (unless it is paused already), empties vCPU 0's IDT and sets its trap flag, and resumes it:
    // the #DB after the next instruction finds no IDT entry, which escalates to #GP, #DF and a shutdown.
    private async Task TripleFaultAsync(CancellationToken cancellationToken)
    {
        bool wasPaused = Observation.State == VmStateName.Paused;
        if (!wasPaused) await PauseAsync(cancellationToken).ConfigureAwait(false);
        var current = await Ask<VcpuRegisters>(new GetRegisters(0), cancellationToken).ConfigureAwait(false);
        var registers = current.Registers;
        registers.Rflags |= TrapFlag;
        var special = current.Special with { Idt = new DescriptorTable(0, 0) };
        await Ask<VcpuRegistersSet>(new SetRegisters(0, registers, special), cancellationToken).ConfigureAwait(false);
        if (!wasPaused) await ResumeAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> SendConsoleInputAsync(string text, CancellationToken cancellationToken) =>
        (await Ask<ConsoleInputAccepted>(new SendConsoleInput(System.Text.Encoding.UTF8.GetBytes(text)), cancellationToken).ConfigureAwait(false)).Bytes;

    private async Task<T> Ask<T>(object request, CancellationToken cancellationToken)
    {
        var reply = await session.Vm.Ask(request, requestTimeout, cancellationToken).ConfigureAwait(false);
        return reply switch
        {
            T answer => answer,
            VmRequestFailed f => throw new VmRequestRefusedException($"VM '{f.VmName}': {f.Error.Message}", kind: KindOf(f.Error)),
            VcpuRequestFailed f => throw new VmRequestRefusedException($"vcpu {f.VcpuId}: {f.Error.Message}"),
            _ => throw new InvalidOperationException($"unexpected reply {reply}"),
        };
    }

    /// <inheritdoc />
    public async Task<(VfioFileState File, bool NonCoherentDma)> AttachVfioAsync(string path, CancellationToken cancellationToken)
    {
        var attached = await Ask<VfioFileAttached>(AttachVfioFile.ByPath(path), cancellationToken).ConfigureAwait(false);
        return (Map(attached.File), attached.NonCoherentDma);
    }

    /// <inheritdoc />
    public async Task<bool> DetachVfioAsync(string path, CancellationToken cancellationToken) =>
        (await Ask<VfioFileDetached>(new DetachVfioFile(path), cancellationToken).ConfigureAwait(false)).NonCoherentDma;

    /// <inheritdoc />
    public async Task<VfioState> ListVfioAsync(CancellationToken cancellationToken)
    {
        var list = await Ask<VfioFileList>(ListVfioFiles.Instance, cancellationToken).ConfigureAwait(false);
        return new VfioState([.. list.Files.Select(Map)], list.NonCoherentDma);
    }

    private static VfioFileState Map(VfioFileInfo file) => new(file.Name, file.Description, file.EnforcedCoherent);

    /// <summary>A refusal's kind as scenarios name it: the VFIO error's for a refused file ("not-vfio-file"), else the VM error's ("not-accepting").</summary>
    public static string KindOf(VmError error) =>
        VfioErrorKinds.Kebab((error is VmError.VfioRefused v ? v.Error.GetType() : error.GetType()).Name);

    /// <summary>The kind of a runtime refusal (a <see cref="VmError"/> or a node's error; a failed create by its cause where it has one).</summary>
    public static string? KindOf(ActorvisorException e) => e.Error switch
    {
        VmError v => KindOf(v),
        Actorvisor.Actors.Registry.VmRegistryError.CreateFailed { Cause: { } cause } => KindOf(cause),
        { } other => VfioErrorKinds.Kebab(other.GetType().Name),
        _ => null,
    };

    /// <inheritdoc />
    public async Task<byte[]> ReadMemoryAsync(ulong address, ulong length, CancellationToken cancellationToken)
    {
        bool mayBeLive = Observation.End is null && Observation.State != VmStateName.Destroyed;
        if (mayBeLive && await ReadLiveAsync(address, length, cancellationToken).ConfigureAwait(false) is { } live) return live;
        // The VM is ending or has ended: its teardown copies the scenario's ranges before unmapping RAM, and reports
        // its end only after that.
        await Observation.WaitForAsync(o => o.End, cancellationToken).ConfigureAwait(false);
        return witness is not null
            ? witness.ReadKept(address, length)
            : throw new VmRequestRefusedException($"vm '{Declaration.Name}' was restored from a snapshot and keeps no copy of its memory after it ended; check it while it runs or is paused");
    }

    // Reads through the VmActor in requests of at most ReadGuestMemory.MaxLength; null once the VM no longer lends
    // out its memory (stopping, ended, or its actor gone after a destroy).
    private async Task<byte[]?> ReadLiveAsync(ulong address, ulong length, CancellationToken cancellationToken)
    {
        var bytes = new byte[length];
        for (ulong done = 0; done < length;)
        {
            int chunk = (int)Math.Min(length - done, ReadGuestMemory.MaxLength);
            object reply;
            try
            {
                reply = await session.Vm.Ask(new ReadGuestMemory(address + done, chunk), requestTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (Observation.End is not null || Observation.State == VmStateName.Destroyed)
            {
                return null;
            }
            switch (reply)
            {
                case GuestMemoryRead read:
                    read.Bytes.CopyTo(bytes.AsSpan(checked((int)done)));
                    done += (ulong)chunk;
                    break;
                case VmRequestFailed { Error: VmError.NotAccepting or VmError.GuestMemoryUnmapped }:
                    return null;
                case VmRequestFailed f:
                    throw new VmRequestRefusedException($"VM '{f.VmName}': {f.Error.Message}");
                default:
                    throw new InvalidOperationException($"unexpected reply {reply}");
            }
        }
        return bytes;
    }

    private static async Task Request(Task request, CancellationToken cancellationToken)
    {
        try
        {
            await request.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ActorvisorException e)
        {
            throw new VmRequestRefusedException(e.Message, e, KindOf(e));
        }
    }

    /// <summary>The scenario's name for a runtime state.</summary>
    public static VmStateName Map(VmState state) => state switch
    {
        VmState.Created => VmStateName.Created,
        VmState.Running => VmStateName.Running,
        VmState.Paused => VmStateName.Paused,
        VmState.Stopping => VmStateName.Stopping,
        VmState.Stopped => VmStateName.Stopped,
        _ => VmStateName.Failed,
    };

    /// <summary>The scenario's view of a runtime outcome.</summary>
    public static VmEnd Map(VmOutcome outcome) => outcome switch
    {
        VmOutcome.Exited e => new VmEnd(OutcomeKind.Exited, ResultCode: e.ResultCode),
        VmOutcome.Halted => new VmEnd(OutcomeKind.Halted),
        VmOutcome.StoppedOnRequest => new VmEnd(OutcomeKind.Stopped),
        VmOutcome.MigratedAway => new VmEnd(OutcomeKind.Stopped),
        VmOutcome.Reset => new VmEnd(OutcomeKind.Reset),
        VmOutcome.Failed f => new VmEnd(OutcomeKind.Failed, Reason: f.Reason),
        _ => new VmEnd(OutcomeKind.Failed, Reason: outcome.ToString()),
    };
}

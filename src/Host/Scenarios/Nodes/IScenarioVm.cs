using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Steps;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// A VM as the scenario runner drives it, whatever node kind it lives on. Requests a node or VM refuses
/// throw <see cref="VmRequestRefusedException"/>; other failures throw what they are.
/// </summary>
public interface IScenarioVm
{
    /// <summary>The VM's declaration.</summary>
    VmDeclaration Declaration { get; }

    /// <summary>Its serial output, state and end as seen so far.</summary>
    VmObservation Observation { get; }

    /// <summary>The node it was placed on (for a cluster VM without a node of its own, the one the cluster chose).</summary>
    string NodeName { get; }

    /// <summary>Which accelerator runs it, e.g. "software (Unicorn ...)".</summary>
    string AcceleratorDescription { get; }

    /// <summary>Created -> Running.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Running -> Paused.</summary>
    Task PauseAsync(CancellationToken cancellationToken);

    /// <summary>Paused -> Running.</summary>
    Task ResumeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes a snapshot of the (Paused or Created) VM named <paramref name="name"/> on its node, running it again afterwards
    /// when <paramref name="resume"/> is set; returns what was written, for the report.
    /// </summary>
    Task<string> SnapshotAsync(string name, bool resume, CancellationToken cancellationToken);

    /// <summary>
    /// Moves the Running VM to node <paramref name="to"/> (null: the cluster's placement picks one) by live migration,
    /// aiming for at most <paramref name="maxDowntime"/> of pause; returns how it went once it completed.
    /// </summary>
    /// <exception cref="VmRequestRefusedException">it was refused, failed or cancelled, or the node kind cannot migrate.</exception>
    Task<string> MigrateAsync(string? to, TimeSpan? maxDowntime, CancellationToken cancellationToken);

    /// <summary>Tears the VM down; it keeps its name on the node.</summary>
    Task StopAsync(CancellationToken cancellationToken);

    /// <summary>Tears the VM down and removes it from its node.</summary>
    Task DestroyAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The VM's async page-fault counters summed over its vCPUs, by the names of <see cref="ExpectAsyncPfStep.CounterNames"/>;
    /// readable after the VM ended or was destroyed too.
    /// </summary>
    /// <exception cref="VmRequestRefusedException">the VM has no lazy memory.</exception>
    Task<IReadOnlyDictionary<string, long>> AsyncPfCountersAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Sends <paramref name="text"/> (as UTF-8) to the VM's serial console; returns how many bytes its UART queued (fewer
    /// than sent when its receive queue is full).
    /// </summary>
    Task<int> SendConsoleInputAsync(string text, CancellationToken cancellationToken);

    /// <summary>Injects a fault into the VM, one of its devices or its backing store.</summary>
    Task InjectFaultAsync(InjectFaultStep fault, CancellationToken cancellationToken);

    /// <summary>Attaches the VFIO file at <paramref name="path"/> to the VM's KVM-VFIO device; returns it as listed and the VM's non-coherent DMA state.</summary>
    Task<(VfioFileState File, bool NonCoherentDma)> AttachVfioAsync(string path, CancellationToken cancellationToken);

    /// <summary>Detaches (and closes) the VFIO file attached as <paramref name="path"/>; returns the VM's non-coherent DMA state.</summary>
    Task<bool> DetachVfioAsync(string path, CancellationToken cancellationToken);

    /// <summary>The VM's attached VFIO files and non-coherent DMA state.</summary>
    Task<VfioState> ListVfioAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads guest RAM [<paramref name="address"/>, + <paramref name="length"/>): live while the VM holds its memory
    /// (through the VM's own request for it), else from the copy taken at teardown (ranges named by the scenario's
    /// expect-memory steps), waiting for the VM's end if it is being torn down.
    /// </summary>
    Task<byte[]> ReadMemoryAsync(ulong address, ulong length, CancellationToken cancellationToken);
}

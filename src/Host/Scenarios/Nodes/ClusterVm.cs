using System.Text;
using System.Text.RegularExpressions;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Steps;

namespace Actorvisor.Host.Scenarios.Nodes;

/// <summary>
/// A VM on a cluster node, driven through the remote API: lifecycle requests, and its console and event streams
/// (subscribed at creation) feeding its <see cref="VmObservation"/>. A VM whose node is lost becomes Lost.
/// </summary>
internal sealed partial class ClusterVm(VmDeclaration declaration, string node, ScenarioCluster cluster) : IScenarioVm
{
    private readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();

    /// <inheritdoc />
    public VmDeclaration Declaration { get; } = declaration;

    /// <inheritdoc />
    public VmObservation Observation { get; } = new() { VmName = declaration.Name };

    /// <inheritdoc />
    public string AcceleratorDescription => Declaration.Pinned ? "through the cluster's remote API" : "placed by the cluster, through its remote API";

    /// <inheritdoc />
    public string NodeName { get; private set; } = node;

    // Migrations that ended, by id (their end may come before the request's reply), and the one being waited for.
    private readonly Dictionary<string, MigrationInfo> _migrationsEnded = new(StringComparer.Ordinal);
    private (string Id, TaskCompletionSource<MigrationInfo> Ended)? _migrationWaited;

    /// <summary>Subscribes to the VM's console and events (their backlog arrives first).</summary>
    public async Task SubscribeAsync(CancellationToken cancellationToken)
    {
        var console = cluster.Client.Subscribe(OnMessage);
        var events = cluster.Client.Subscribe(OnMessage);
        foreach (var request in new ApiRequest[] { new SubscribeConsoleRequest(Declaration.Name, console), new SubscribeVmEventsRequest(Declaration.Name, events) })
        {
            var reply = await cluster.RequestAsync(request, cancellationToken).ConfigureAwait(false);
            if (reply is not SubscribedReply) throw Refused(reply);
        }
    }

    private void OnMessage(IApiMessage message)
    {
        switch (message)
        {
            case ConsoleOutput output:
                string text;
                lock (_utf8)
                {
                    var chars = new char[_utf8.GetCharCount(output.Bytes, 0, output.Bytes.Length)];
                    _utf8.GetChars(output.Bytes, 0, output.Bytes.Length, chars, 0);
                    text = new string(chars);
                }
                Observation.OnSerial(text);
                break;
            case VmEventNotice notice:
                Observation.OnState(Map(notice.Status));
                break;
            case MigrationProgress { Migration: { Ended: true } ended }:
                lock (_migrationsEnded)
                {
                    _migrationsEnded[ended.Id] = ended;
                    if (_migrationWaited is { } waited && waited.Id == ended.Id) waited.Ended.TrySetResult(ended);
                }
                break;
            case StreamEnded ended when EndOf(ended.Reason) is { } end:
                Observation.OnEnded(end);
                break;
        }
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Request(new StartVmRequest(Declaration.Name), cancellationToken);

    /// <inheritdoc />
    public Task PauseAsync(CancellationToken cancellationToken) => Request(new PauseVmRequest(Declaration.Name), cancellationToken);

    /// <inheritdoc />
    public Task ResumeAsync(CancellationToken cancellationToken) => Request(new ResumeVmRequest(Declaration.Name), cancellationToken);

    /// <inheritdoc />
    public async Task<string> SnapshotAsync(string name, bool resume, CancellationToken cancellationToken)
    {
        var reply = await cluster.RequestAsync(new SnapshotVmRequest(Declaration.Name, name, resume), cancellationToken).ConfigureAwait(false);
        if (reply is not SnapshotReply written) throw Refused(reply);
        return SnapshotSteps.Detail(written.MemoryBytes, written.BytesOnDisk, written.WriteMs);
    }

    /// <inheritdoc />
    public async Task<string> MigrateAsync(string? to, TimeSpan? maxDowntime, CancellationToken cancellationToken)
    {
        int? ms = maxDowntime is { } d ? (int)Math.Ceiling(d.TotalMilliseconds) : null;
        var reply = await cluster.RequestAsync(new MigrateVmRequest(Declaration.Name, to, ms), cancellationToken).ConfigureAwait(false);
        if (reply is not MigrationReply { Migration: var started }) throw Refused(reply);
        var ended = new TaskCompletionSource<MigrationInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_migrationsEnded)
        {
            if (_migrationsEnded.TryGetValue(started.Id, out var early)) ended.TrySetResult(early);
            else _migrationWaited = (started.Id, ended);
        }
        var end = await ended.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (end.Status != MigrationInfo.Completed)
            throw new VmRequestRefusedException($"migration {end.Id} of VM {Declaration.Name} to node {end.Target} {end.Status}: {end.Reason}", kind: end.Status);
        NodeName = end.Target;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"from node {end.Source} to node {end.Target}: {end.Round + 1} round(s), {end.DowntimeMs:0.#} ms of downtime");
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Request(new StopVmRequest(Declaration.Name), cancellationToken);

    /// <inheritdoc />
    public async Task DestroyAsync(CancellationToken cancellationToken)
    {
        await Request(new DestroyVmRequest(Declaration.Name), cancellationToken).ConfigureAwait(false);
        Observation.OnState(VmStateName.Destroyed);
    }

    private async Task Request(ApiRequest request, CancellationToken cancellationToken)
    {
        var reply = await cluster.RequestAsync(request, cancellationToken).ConfigureAwait(false);
        if (reply is ApiErrorReply) throw Refused(reply);
        if (reply is VmReply { Vm: var info }) Observation.OnState(Map(info.Status));
    }

    /// <inheritdoc />
    public async Task<int> SendConsoleInputAsync(string text, CancellationToken cancellationToken)
    {
        var reply = await cluster.RequestAsync(new SendConsoleInputRequest(Declaration.Name, text), cancellationToken).ConfigureAwait(false);
        return reply is ConsoleInputReply accepted ? accepted.AcceptedBytes : throw Refused(reply);
    }

    /// <summary>An API error as the runner's refusal.</summary>
    public static VmRequestRefusedException Refused(IApiReply reply) => reply is ApiErrorReply e
        ? new VmRequestRefusedException(e.Message, kind: e.Code.ToString())
        : new VmRequestRefusedException($"unexpected reply {reply}");

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, long>> AsyncPfCountersAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException("the remote API has no async page-fault counters");

    /// <inheritdoc />
    public Task InjectFaultAsync(InjectFaultStep fault, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"fault {fault.Fault.YamlName()} is not supported by node kind 'cluster'");

    /// <inheritdoc />
    public Task<(VfioFileState File, bool NonCoherentDma)> AttachVfioAsync(string path, CancellationToken cancellationToken) =>
        throw new NotSupportedException("VFIO is not supported by node kind 'cluster'");

    /// <inheritdoc />
    public Task<bool> DetachVfioAsync(string path, CancellationToken cancellationToken) =>
        throw new NotSupportedException("VFIO is not supported by node kind 'cluster'");

    /// <inheritdoc />
    public Task<VfioState> ListVfioAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException("VFIO is not supported by node kind 'cluster'");

    /// <inheritdoc />
    public Task<byte[]> ReadMemoryAsync(ulong address, ulong length, CancellationToken cancellationToken) =>
        throw new NotSupportedException("reading guest memory is not supported by node kind 'cluster'");

    private static VmStateName Map(VmStatus status) => status switch
    {
        VmStatus.Creating or VmStatus.Created => VmStateName.Created,
        VmStatus.Running => VmStateName.Running,
        VmStatus.Paused => VmStateName.Paused,
        VmStatus.Stopping => VmStateName.Stopping,
        VmStatus.Stopped => VmStateName.Stopped,
        VmStatus.Lost => VmStateName.Lost,
        _ => VmStateName.Failed,
    };

    // The console stream ends with "the VM <outcome>", the outcome as the node's VmOutcome prints it.
    private static VmEnd? EndOf(string reason)
    {
        var outcome = reason.StartsWith("the VM ", StringComparison.Ordinal) ? reason[7..] : reason;
        if (ExitedPattern().Match(outcome) is { Success: true } m) return new VmEnd(OutcomeKind.Exited, ResultCode: int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        if (outcome == "all vCPUs halted") return new VmEnd(OutcomeKind.Halted);
        if (outcome == "stopped on request") return new VmEnd(OutcomeKind.Stopped);
        if (outcome == "reset") return new VmEnd(OutcomeKind.Reset);
        if (outcome.StartsWith("failed: ", StringComparison.Ordinal)) return new VmEnd(OutcomeKind.Failed, Reason: outcome[8..]);
        return null; // destroyed, or the node went away: the state says what happened
    }

    [GeneratedRegex(@"^exited with result code (\d+)$")]
    private static partial Regex ExitedPattern();
}

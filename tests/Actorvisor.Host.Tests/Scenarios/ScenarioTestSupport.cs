using System.Collections.Concurrent;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Vfio;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Reporting;
using Actorvisor.Host.Scenarios.Running;
using Spectre.Console;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>Runs scenarios on real in-process nodes and keeps what a test needs to look at afterwards.</summary>
public static class ScenarioTestSupport
{
    /// <summary>tests/scenarios of this checkout.</summary>
    public static string LibraryFolder { get; } = FindLibrary();

    /// <summary>The accelerator the tests run VMs on: software, or ACTORVISOR_TEST_ACCEL=kvm|auto.</summary>
    public static AcceleratorPreference? AcceleratorOverride =>
        Environment.GetEnvironmentVariable("ACTORVISOR_TEST_ACCEL")?.ToLowerInvariant() switch
        {
            "kvm" => AcceleratorPreference.Kvm,
            "auto" => AcceleratorPreference.Auto,
            _ => null,
        };

    /// <summary>A console that writes plain text (no colours, no live display) into <paramref name="writer"/>.</summary>
    public static IAnsiConsole PlainConsole(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 240; // one report line per line, as in a CI log
        return console;
    }

    /// <summary>Parses <paramref name="yaml"/> (as <paramref name="file"/> in <paramref name="folder"/>) and runs it; the report goes to <paramref name="output"/>.</summary>
    public static async Task<(ScenarioResult Result, RecordingNodeFactory Nodes, string Report)> RunAsync(string yaml, ITestOutputHelper output,
        string file = "test.yaml", string? folder = null, CancellationToken cancellationToken = default, Func<IVirtualMachine, IKvmVfioDevice>? kvmVfioDevice = null)
    {
        folder ??= Path.GetTempPath();
        var scenario = ScenarioParser.Parse(yaml, Path.Combine(folder, file), folder);
        return await RunAsync(scenario, output, cancellationToken, kvmVfioDevice);
    }

    /// <summary>Runs <paramref name="scenario"/> on a <see cref="RecordingNodeFactory"/>; the report goes to <paramref name="output"/>.</summary>
    /// <param name="scenario">The scenario.</param>
    /// <param name="output">Where the report goes.</param>
    /// <param name="cancellationToken">Interrupts the run.</param>
    /// <param name="kvmVfioDevice">Creates the VMs' KVM-VFIO devices (e.g. one that accepts stand-in files); null for the real one.</param>
    public static async Task<(ScenarioResult Result, RecordingNodeFactory Nodes, string Report)> RunAsync(Scenario scenario, ITestOutputHelper output,
        CancellationToken cancellationToken = default, Func<IVirtualMachine, IKvmVfioDevice>? kvmVfioDevice = null)
    {
        var nodes = new RecordingNodeFactory(new ScenarioNodeFactory(new InProcessNodeFactory(kvmVfioDevice: kvmVfioDevice)));
        var writer = new StringWriter();
        var console = PlainConsole(writer);
        var runner = new ScenarioRunner(nodes, new ScenarioRunOptions { AcceleratorOverride = AcceleratorOverride });
        var result = await runner.RunAsync(scenario, new ProgressReporter(console, verbose: true), cancellationToken);
        SummaryTable.Write(console, [result]);
        var report = writer.ToString();
        output.WriteLine(report);
        return (result, nodes, report);
    }

    private static string FindLibrary()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Actorvisor.sln"))) return Path.Combine(dir.FullName, "tests", "scenarios");
        throw new DirectoryNotFoundException($"no Actorvisor.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>Starts real nodes through <paramref name="inner"/> and remembers them and the VMs created on them.</summary>
public sealed class RecordingNodeFactory(INodeFactory inner) : INodeFactory
{
    /// <summary>Nodes started, in order.</summary>
    public ConcurrentQueue<NodeDeclaration> Started { get; } = new();

    /// <summary>Every VM created, in order.</summary>
    public ConcurrentQueue<IScenarioVm> Vms { get; } = new();

    /// <inheritdoc />
    public async Task<IScenarioNode> StartAsync(NodeDeclaration node, CancellationToken cancellationToken)
    {
        var started = await inner.StartAsync(node, cancellationToken);
        Started.Enqueue(node);
        return new RecordingNode(started, Vms);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IScenarioNode>> StartAllAsync(IReadOnlyList<NodeDeclaration> nodes, CancellationToken cancellationToken)
    {
        var started = await inner.StartAllAsync(nodes, cancellationToken);
        foreach (var node in nodes) Started.Enqueue(node);
        return [.. started.Select(n => new RecordingNode(n, Vms))];
    }

    private sealed class RecordingNode(IScenarioNode inner, ConcurrentQueue<IScenarioVm> vms) : IScenarioNode
    {
        public NodeDeclaration Declaration => inner.Declaration;

        public async Task<IScenarioVm> CreateVmAsync(VmDeclaration vm, IReadOnlyList<(ulong Address, ulong Length)> memoryRanges, CancellationToken cancellationToken)
        {
            var created = await inner.CreateVmAsync(vm, memoryRanges, cancellationToken);
            vms.Enqueue(created);
            return created;
        }

        public async Task<IScenarioVm> RestoreVmAsync(VmDeclaration vm, string snapshot, string snapshotNode, Actorvisor.Hardware.Snapshots.RestoreMode mode,
            string consoleBefore, CancellationToken cancellationToken)
        {
            var restored = await inner.RestoreVmAsync(vm, snapshot, snapshotNode, mode, consoleBefore, cancellationToken);
            vms.Enqueue(restored);
            return restored;
        }

        public Task KillAsync(CancellationToken cancellationToken) => inner.KillAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

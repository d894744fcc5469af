using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Steps;
using YamlDotNet.RepresentationModel;

namespace Actorvisor.Host.Scenarios.Parsing;

/// <summary>
/// Reads a scenario file: YAML syntax, then the structure (known keys, types, required fields), then the
/// meaning (<see cref="ScenarioValidator"/>: names that exist, faults the node kind supports, VM specs the
/// hardware accepts). Every problem is reported with its file, line and column, all at once, before
/// anything runs.
/// </summary>
public static class ScenarioParser
{
    private static readonly IReadOnlyDictionary<string, AcceleratorPreference> Accelerators =
        new Dictionary<string, AcceleratorPreference> { ["software"] = AcceleratorPreference.Software, ["kvm"] = AcceleratorPreference.Kvm, ["auto"] = AcceleratorPreference.Auto };

    private static readonly IReadOnlyDictionary<string, Actors.Registry.VmRestartPolicy> RestartPolicies =
        Enum.GetValues<Actors.Registry.VmRestartPolicy>().ToDictionary(p => Actors.Registry.VmRestartPolicies.Name(p));

    private static readonly IReadOnlyDictionary<string, LazyStoreKind> LazyStores =
        new Dictionary<string, LazyStoreKind> { ["zero"] = LazyStoreKind.Zero, ["file"] = LazyStoreKind.File };

    private static readonly IReadOnlyDictionary<string, DeviceKind> DeviceKinds =
        new Dictionary<string, DeviceKind> { ["crashable-port"] = DeviceKind.CrashablePort };

    /// <summary>Reads the scenario file at <paramref name="path"/> (named in errors as given).</summary>
    /// <exception cref="ScenarioParseException">the file is unreadable or has errors.</exception>
    public static Scenario ParseFile(string path)
    {
        string text;
        try
        {
            text = System.IO.File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ScenarioParseException([new ScenarioError(new SourceLocation(path, 1, 1), $"cannot read the file: {e.Message}")]);
        }
        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>Reads scenario <paramref name="text"/>, naming it <paramref name="file"/> in errors.</summary>
    /// <param name="text">The YAML.</param>
    /// <param name="file">The name used in locations and as the default scenario name.</param>
    /// <param name="baseDirectory">Where files the scenario names (expect-rejected) are looked up; null: the current directory.</param>
    /// <exception cref="ScenarioParseException">the text has errors.</exception>
    public static Scenario Parse(string text, string file, string? baseDirectory = null)
    {
        var context = new ParseContext(file);
        var folder = baseDirectory ?? Directory.GetCurrentDirectory();
        var root = YamlText.Load(text, context);
        Scenario? scenario = root is null ? null : ReadScenario(root, context, folder);
        if (scenario is not null && context.Errors.Count == 0)
            ScenarioValidator.Validate(scenario, context);
        if (context.Errors.Count > 0 || scenario is null)
            throw new ScenarioParseException([.. context.Errors.OrderBy(e => e.Location.Line).ThenBy(e => e.Location.Column)]);
        return scenario;
    }

    private static Scenario? ReadScenario(YamlNode root, ParseContext context, string folder)
    {
        var fields = Fields.Of(root, "scenario", context, "name", "description", "timeout", "step-timeout", "accelerator", "nodes", "vms", "steps");
        if (fields is null) return null;
        var defaultAccelerator = fields.Choice("accelerator", Accelerators) ?? AcceleratorPreference.Software;
        var nodes = ReadNodes(fields, context);
        string defaultNode = nodes.Count > 0 ? nodes[0].Name : NodeDeclaration.DefaultName;
        if (nodes.Count == 0 && !fields.Has("nodes"))
            nodes = [new NodeDeclaration(NodeDeclaration.DefaultName, NodeKind.InProcess, null, null, context.At(root))];
        var vms = new List<VmDeclaration>();
        if (fields.Sequence("vms") is { } vmNodes)
            foreach (var node in vmNodes)
                if (ReadVm(node, context, defaultNode, defaultAccelerator, folder) is { } vm) vms.Add(vm);
        var steps = fields.Sequence("steps", required: true) is { } stepNodes ? ReadSteps(stepNodes, context, "steps") : [];
        return new Scenario
        {
            Name = fields.String("name") ?? Path.GetFileNameWithoutExtension(context.File),
            Description = fields.String("description")?.Trim() ?? "",
            File = context.File,
            Folder = folder,
            Timeout = fields.Duration("timeout") ?? Scenario.DefaultTimeout,
            StepTimeout = fields.Duration("step-timeout") ?? Scenario.DefaultStepTimeout,
            Nodes = nodes,
            Vms = vms,
            Steps = steps,
        };
    }

    private static List<NodeDeclaration> ReadNodes(Fields scenario, ParseContext context)
    {
        var nodes = new List<NodeDeclaration>();
        if (scenario.Sequence("nodes") is not { } list) return nodes;
        foreach (var node in list)
        {
            var f = Fields.Of(node, "node", context, "name", "kind", "vcpus", "memory");
            if (f is null) continue;
            var name = f.String("name", required: true);
            var kind = f.Choice("kind", NodeKindSupport.ByName) ?? NodeKind.InProcess;
            var vcpus = f.Int("vcpus", 1, 4096);
            var memory = f.Size("memory");
            if (name is not null) nodes.Add(new NodeDeclaration(name, kind, vcpus, memory, context.At(node)));
        }
        return nodes;
    }

    private static VmDeclaration? ReadVm(YamlNode node, ParseContext context, string defaultNode, AcceleratorPreference defaultAccelerator, string folder)
    {
        var peeked = Fields.Peek(node, "name");
        var what = peeked is null ? "vm" : $"vm '{peeked}'";
        var f = Fields.Of(node, what, context, "name", "node", "guest", "memory", "vcpus", "accelerator", "devices", "vfio", "lazy-memory", "restart", "cpu-limit", "snapshot-on-stop", "disks");
        if (f is null) return null;
        var name = f.String("name", required: true);
        var guest = f.Node("guest") is { } g ? ReadGuest(g, context, what) : null;
        if (!f.Has("guest")) context.Error(node, $"{what}: missing 'guest' (one of: {string.Join(", ", GuestCatalog.Names)})");
        var memory = f.Size("memory");
        var vcpus = f.Int("vcpus", 1, 64);
        var accelerator = f.Choice("accelerator", Accelerators) ?? defaultAccelerator;
        var cpuLimit = f.Fraction("cpu-limit", Api.V1.ApiValidator.MinCpuLimit, 64);
        var nodeName = f.String("node") ?? defaultNode;
        var restart = f.Choice("restart", RestartPolicies) ?? Actors.Registry.VmRestartPolicy.Never;
        var snapshotOnStop = f.Bool("snapshot-on-stop") ?? false;
        var devices = new List<DeviceDeclaration>();
        if (f.Sequence("devices") is { } deviceNodes)
        {
            foreach (var d in deviceNodes)
            {
                var df = Fields.Of(d, $"{what} device", context, "name", "kind", "port");
                if (df is null) continue;
                var deviceName = df.String("name", required: true);
                var kind = df.Choice("kind", DeviceKinds, required: true);
                var port = df.Int("port", 0, ushort.MaxValue, required: true);
                if (deviceName is not null && kind is { } k && port is { } p)
                    devices.Add(new DeviceDeclaration(deviceName, k, (ushort)p, context.At(d)));
            }
        }
        var vfio = new List<string>();
        if (f.Sequence("vfio") is { } vfioNodes)
        {
            foreach (var item in vfioNodes)
            {
                if (item is not YamlScalarNode s || Fields.IsNull(s))
                {
                    context.Error(item, $"{what}: 'vfio' items must be paths of VFIO files, got {Fields.Describe(item)}");
                    continue;
                }
                var path = s.Value!.Trim();
                if (VfioPathProblem(path) is { } problem) context.Error(item, $"{what}: 'vfio' items {problem}, got '{path}'");
                else if (vfio.Contains(path, StringComparer.Ordinal)) context.Error(item, $"{what}: 'vfio' lists '{path}' twice");
                else vfio.Add(path);
            }
        }
        var disks = new List<VirtioDiskSpec>();
        if (f.Sequence("disks") is { } diskNodes)
        {
            foreach (var item in diskNodes)
            {
                if (item is not YamlScalarNode s || Fields.IsNull(s))
                {
                    context.Error(item, $"{what}: 'disks' items are FILE[,ro] (a raw image in the scenario's folder), got {Fields.Describe(item)}");
                    continue;
                }
                if (ReadDisk(s.Value!.Trim(), folder, out var problem) is { } disk) disks.Add(disk);
                else context.Error(item, $"{what}: 'disks' item '{s.Value!.Trim()}' {problem}");
            }
        }
        LazyMemoryDeclaration? lazy = null;
        bool lazyOk = true;
        if (f.Node("lazy-memory") is { } lazyNode)
        {
            lazy = ReadLazyMemory(lazyNode, context, what, folder);
            lazyOk = lazy is not null;
        }
        if (name is null || guest is null || !lazyOk) return null;
        return new VmDeclaration(name, nodeName, guest, memory, vcpus, accelerator, devices, context.At(node)) { VfioFiles = vfio, LazyMemory = lazy, Pinned = f.Has("node"), Restart = restart, CpuLimit = cpuLimit, SnapshotOnStop = snapshotOnStop, Disks = disks };
    }

    // "FILE[,ro]": FILE relative to the scenario's folder and inside it (as a node confines a disk to its image
    // directories), an existing regular file; the spec holds its absolute path.
    private static VirtioDiskSpec? ReadDisk(string text, string folder, out string problem)
    {
        VirtioDiskSpec parsed;
        try { parsed = VirtioDiskSpec.Parse(text); }
        catch (ArgumentException e)
        {
            problem = e.Message;
            return null;
        }
        if (Path.IsPathRooted(parsed.Path))
        {
            problem = "must be relative to the scenario's folder";
            return null;
        }
        var root = Path.GetFullPath(folder);
        var full = Path.GetFullPath(Path.Combine(root, parsed.Path));
        if (!full.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            problem = $"leaves the scenario's folder {root}";
            return null;
        }
        if (!System.IO.File.Exists(full))
        {
            problem = $"does not exist (looked for {full})";
            return null;
        }
        problem = "";
        return parsed with { Path = full };
    }

    // lazy-memory: { size: 4M, address: 0x40000000, store: zero | file, file: image.raw, latency: 5ms }
    private static LazyMemoryDeclaration? ReadLazyMemory(YamlNode node, ParseContext context, string vm, string folder)
    {
        var what = $"{vm} lazy-memory";
        var f = Fields.Of(node, what, context, "size", "address", "store", "file", "latency");
        if (f is null) return null;
        var size = f.Size("size", required: true);
        var address = f.Has("address") ? f.Number("address") : LazyMemoryDeclaration.DefaultAddress;
        var store = f.Choice("store", LazyStores) ?? (f.Has("store") ? null : LazyStoreKind.Zero);
        var file = f.String("file");
        var latency = f.Has("latency") ? f.Duration("latency") : TimeSpan.Zero;
        bool ok = size is not null && address is not null && store is not null && latency is not null && (file is not null || !f.Has("file"));
        if (size is { } sz && (sz == 0 || sz % 4096 != 0))
        {
            f.Error("size", $"must be a positive multiple of 4K, got 0x{sz:x}");
            ok = false;
        }
        if (address is { } a && a % 4096 != 0)
        {
            f.Error("address", $"must be 4K aligned, got 0x{a:x}");
            ok = false;
        }
        string? fullPath = null;
        if (store == LazyStoreKind.File)
        {
            if (file is null)
            {
                if (!f.Has("file")) context.Error(node, $"{what}: store 'file' needs 'file' (the image's path, relative to the scenario's folder)");
                ok = false;
            }
            else
            {
                fullPath = Path.GetFullPath(Path.Combine(folder, file.Trim()));
                if (!System.IO.File.Exists(fullPath))
                {
                    f.Error("file", $"'{file}' does not exist (looked for {fullPath})");
                    ok = false;
                }
            }
        }
        else if (f.Has("file"))
        {
            f.Error("file", "only applies to store 'file'");
            ok = false;
        }
        return ok ? new LazyMemoryDeclaration(size!.Value, address!.Value, store!.Value, file?.Trim(), fullPath, latency!.Value, context.At(node)) : null;
    }

    private static GuestDeclaration? ReadGuest(YamlNode node, ParseContext context, string vm)
    {
        string? name;
        YamlMappingNode? parameters = null;
        switch (node)
        {
            case YamlScalarNode s when !Fields.IsNull(s):
                name = s.Value!.Trim();
                break;
            case YamlMappingNode m:
                parameters = m;
                name = Fields.Peek(m, "name");
                if (name is null)
                {
                    context.Error(node, $"{vm} guest: missing 'name' (one of: {string.Join(", ", GuestCatalog.Names)})");
                    return null;
                }
                break;
            default:
                context.Error(node, $"{vm}: 'guest' must be a guest name or a mapping with 'name' and parameters, got {Fields.Describe(node)}");
                return null;
        }
        var entry = GuestCatalog.Find(name);
        if (entry is null)
        {
            context.Error(node, $"{vm}: unknown guest '{name}'{Suggestions.DidYouMean(name, GuestCatalog.Names)}; known guests: {string.Join(", ", GuestCatalog.Names)}");
            return null;
        }
        var values = new Dictionary<string, int>();
        var f = parameters is null ? null : Fields.Of(parameters, $"{vm} guest '{name}'", context, ["name", .. entry.Parameters.Select(p => p.Name)]);
        foreach (var p in entry.Parameters)
            values[p.Name] = f?.Int(p.Name, p.Min, p.Max) ?? p.Default;
        return new GuestDeclaration(name, values, context.At(node));
    }

    private static List<Step> ReadSteps(YamlSequenceNode list, ParseContext context, string where)
    {
        var steps = new List<Step>();
        if (list.Children.Count == 0) context.Error(list, $"{where}: the list of steps is empty");
        foreach (var node in list)
            if (ReadStep(node, context) is { } step) steps.Add(step);
        return steps;
    }

    private static Step? ReadStep(YamlNode node, ParseContext context)
    {
        if (node is not YamlMappingNode { Children.Count: 1 } mapping)
        {
            var got = node is YamlMappingNode m ? $"{m.Children.Count} keys" : Fields.Describe(node);
            context.Error(node, $"a step is one keyword with its parameters, e.g. '- start: web' or '- wait-for-serial: {{vm: web, text: Hello}}'; got {got}");
            return null;
        }
        var (keyNode, value) = mapping.Children.Single();
        var keyword = (keyNode as YamlScalarNode)?.Value ?? "";
        if (StepKinds.Find(keyword) is not { } kind)
        {
            context.Error(keyNode, $"unknown step '{keyword}'{Suggestions.DidYouMean(keyword, StepKinds.Keywords)}; known steps: {string.Join(", ", StepKinds.Keywords)}");
            return null;
        }
        var syntax = new StepSyntax(keyword, value, context.At(keyNode), context, (list, where) => ReadSteps(list, context, where));
        var step = kind.Parse(syntax);
        return step is null ? null : step with { Timeout = syntax.Timeout };
    }

    /// <summary>Why <paramref name="path"/> cannot name a VFIO file, or null: the KVM-VFIO device opens files by absolute path (VmActorSpec's rule, checked here with a location).</summary>
    internal static string? VfioPathProblem(string path) =>
        path.Length > 0 && path[0] == '/' ? null : "must be an absolute path (VFIO files are e.g. /dev/vfio/12 or /dev/vfio/devices/vfio0)";
}

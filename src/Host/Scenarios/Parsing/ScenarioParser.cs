using System.Text.RegularExpressions;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;
using Actorvisor.Host.Scenarios.Language;
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
    /// <summary>The step keywords, in the order the docs list them.</summary>
    public static IReadOnlyList<string> StepKeywords { get; } =
    [
        "create", "start", "pause", "resume", "stop", "destroy", "wait-for-serial", "expect-state", "expect-result",
        "expect-outcome", "expect-memory", "expect-async-pf", "expect-placement", "inject", "attach-vfio", "detach-vfio", "expect-vfio", "repeat", "parallel", "measure", "expect-rejected",
    ];

    private static readonly IReadOnlyDictionary<string, AcceleratorPreference> Accelerators =
        new Dictionary<string, AcceleratorPreference> { ["software"] = AcceleratorPreference.Software, ["kvm"] = AcceleratorPreference.Kvm, ["auto"] = AcceleratorPreference.Auto };

    private static readonly IReadOnlyDictionary<string, VmStateName> States =
        Enum.GetValues<VmStateName>().ToDictionary(s => s.ToString().ToLowerInvariant());

    private static readonly IReadOnlyDictionary<string, OutcomeKind> Outcomes =
        Enum.GetValues<OutcomeKind>().ToDictionary(s => s.ToString().ToLowerInvariant());

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
        var f = Fields.Of(node, what, context, "name", "node", "guest", "memory", "vcpus", "accelerator", "devices", "vfio", "lazy-memory");
        if (f is null) return null;
        var name = f.String("name", required: true);
        var guest = f.Node("guest") is { } g ? ReadGuest(g, context, what) : null;
        if (!f.Has("guest")) context.Error(node, $"{what}: missing 'guest' (one of: {string.Join(", ", GuestCatalog.Names)})");
        var memory = f.Size("memory");
        var vcpus = f.Int("vcpus", 1, 64);
        var accelerator = f.Choice("accelerator", Accelerators) ?? defaultAccelerator;
        var nodeName = f.String("node") ?? defaultNode;
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
        LazyMemoryDeclaration? lazy = null;
        bool lazyOk = true;
        if (f.Node("lazy-memory") is { } lazyNode)
        {
            lazy = ReadLazyMemory(lazyNode, context, what, folder);
            lazyOk = lazy is not null;
        }
        if (name is null || guest is null || !lazyOk) return null;
        return new VmDeclaration(name, nodeName, guest, memory, vcpus, accelerator, devices, context.At(node)) { VfioFiles = vfio, LazyMemory = lazy, Pinned = f.Has("node") };
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
        var at = context.At(keyNode);
        TimeSpan? timeout;
        var step = keyword switch
        {
            "create" => Lifecycle(LifecycleAction.Create, value, context, at, out timeout),
            "start" => Lifecycle(LifecycleAction.Start, value, context, at, out timeout),
            "pause" => Lifecycle(LifecycleAction.Pause, value, context, at, out timeout),
            "resume" => Lifecycle(LifecycleAction.Resume, value, context, at, out timeout),
            "stop" => Lifecycle(LifecycleAction.Stop, value, context, at, out timeout),
            "destroy" => Lifecycle(LifecycleAction.Destroy, value, context, at, out timeout),
            "wait-for-serial" => WaitForSerial(value, context, at, out timeout),
            "expect-state" => ExpectState(value, context, at, out timeout),
            "expect-result" => ExpectResult(value, context, at, out timeout),
            "expect-outcome" => ExpectOutcome(value, context, at, out timeout),
            "expect-memory" => ExpectMemory(value, context, at, out timeout),
            "expect-async-pf" => ExpectAsyncPf(value, context, at, out timeout),
            "expect-placement" => ExpectPlacement(value, context, at, out timeout),
            "inject" => Inject(value, context, at, out timeout),
            "attach-vfio" => Vfio(VfioAction.Attach, value, context, at, out timeout),
            "detach-vfio" => Vfio(VfioAction.Detach, value, context, at, out timeout),
            "expect-vfio" => ExpectVfio(value, context, at, out timeout),
            "repeat" => Repeat(value, context, at, out timeout),
            "parallel" => Parallel(value, context, at, out timeout),
            "measure" => Measure(value, context, at, out timeout),
            "expect-rejected" => ExpectRejected(value, context, at, out timeout),
            _ => Unknown(keyword, keyNode, context, out timeout),
        };
        return step is null ? null : step with { Timeout = timeout };
    }

    private static Step? Unknown(string keyword, YamlNode keyNode, ParseContext context, out TimeSpan? timeout)
    {
        timeout = null;
        context.Error(keyNode, $"unknown step '{keyword}'{Suggestions.DidYouMean(keyword, StepKeywords)}; known steps: {string.Join(", ", StepKeywords)}");
        return null;
    }

    private static Step? Lifecycle(LifecycleAction action, YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var keyword = action.ToString().ToLowerInvariant();
        if (value is YamlScalarNode s && !Fields.IsNull(s)) return new LifecycleStep(at, action, s.Value!.Trim(), null);
        if (value is YamlScalarNode)
        {
            context.Error(value, $"{keyword}: name the VM, e.g. '- {keyword}: web'");
            return null;
        }
        var f = Fields.Of(value, keyword, context, "vm", "expect-error", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var expectError = f.String("expect-error");
        return vm is null ? null : new LifecycleStep(at, action, vm, expectError);
    }

    private static Step? WaitForSerial(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "wait-for-serial", context, "vm", "text", "regex", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var text = f.String("text");
        var pattern = f.String("regex");
        if (text is null == pattern is null)
        {
            if (!f.Has("text") && !f.Has("regex")) context.Error(value, "wait-for-serial: missing 'text' or 'regex' (what to wait for)");
            else if (text is not null) f.Error("regex", "cannot be given together with 'text'; use one of them");
            return null;
        }
        if (text is { Length: 0 })
        {
            f.Error("text", "must not be empty");
            return null;
        }
        Regex? regex = null;
        if (pattern is not null)
        {
            try
            {
                regex = new Regex(pattern, RegexOptions.Multiline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                f.Error("regex", $"is not a valid regular expression: {e.Message}");
                return null;
            }
        }
        return vm is null ? null : new WaitForSerialStep(at, vm, text, regex);
    }

    private static Step? ExpectState(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "expect-state", context, "vm", "state", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var state = f.Choice("state", States, required: true);
        return vm is null || state is null ? null : new ExpectStateStep(at, vm, state.Value);
    }

    private static Step? ExpectResult(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "expect-result", context, "vm", "code", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var code = f.Int("code", 0, 255, required: true);
        return vm is null || code is null ? null : new ExpectResultStep(at, vm, code.Value);
    }

    private static Step? ExpectOutcome(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "expect-outcome", context, "vm", "outcome", "reason", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var outcome = f.Choice("outcome", Outcomes, required: true);
        var reason = f.String("reason");
        if (reason is not null && outcome is not OutcomeKind.Failed and not null)
        {
            f.Error("reason", "only applies to outcome 'failed' (the reason a VM failed)");
            return null;
        }
        return vm is null || outcome is null ? null : new ExpectOutcomeStep(at, vm, outcome.Value, reason);
    }

    private static Step? ExpectMemory(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "expect-memory", context, "vm", "address", "length", "sum32", "sha256", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var address = f.Number("address", required: true);
        var length = f.Size("length", required: true);
        string? expected = null;
        ChecksumAlgorithm algorithm = default;
        if (f.Has("sum32") == f.Has("sha256"))
        {
            context.Error(value, "expect-memory: give exactly one checksum: 'sum32' (8 hex digits) or 'sha256' (64 hex digits)");
            return null;
        }
        if (f.Has("sum32"))
        {
            algorithm = ChecksumAlgorithm.Sum32;
            expected = HexDigits(f, "sum32", 8);
        }
        else
        {
            algorithm = ChecksumAlgorithm.Sha256;
            expected = HexDigits(f, "sha256", 64);
        }
        if (vm is null || address is null || length is null || expected is null) return null;
        return new ExpectMemoryStep(at, vm, address.Value, length.Value, algorithm, expected);
    }

    // A hex checksum: "0x" optional, case-insensitive, left-padded with zeros to the algorithm's width.
    private static string? HexDigits(Fields f, string key, int width)
    {
        var text = f.String(key);
        if (text is null) return null;
        var digits = text.Trim();
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
        digits = digits.Replace("_", "");
        if (digits.Length == 0 || digits.Length > width || !digits.All(char.IsAsciiHexDigit))
        {
            f.Error(key, $"must be at most {width} hex digits, got '{text}'");
            return null;
        }
        return digits.ToLowerInvariant().PadLeft(width, '0');
    }

    private static Step? Inject(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "inject", context, "fault", "vm", "device", "node", "delay", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var fault = f.Choice("fault", FaultKinds.ByName, required: true);
        var vm = f.String("vm");
        var device = f.String("device");
        var node = f.String("node");
        var delay = f.Duration("delay");
        if (fault is not { } kind) return null;
        bool ok = true;
        string what = $"inject {kind.YamlName()}";
        void Need(string key, bool present) { if (!present) { context.Error(value, $"{what}: missing '{key}'"); ok = false; } }
        void Refuse(string key) { if (f.Has(key)) { f.Error(key, $"does not apply to fault {kind.YamlName()}"); ok = false; } }
        switch (kind)
        {
            case FaultKind.CrashDevice:
                Need("vm", vm is not null); Need("device", device is not null); Refuse("node"); Refuse("delay");
                break;
            case FaultKind.KillNode:
                Need("node", node is not null); Refuse("vm"); Refuse("device"); Refuse("delay");
                break;
            case FaultKind.SlowStore:
                Need("vm", vm is not null); Need("delay", f.Has("delay")); Refuse("device"); Refuse("node");
                ok &= !f.Has("delay") || delay is not null;
                break;
            default:
                Need("vm", vm is not null); Refuse("device"); Refuse("node"); Refuse("delay");
                break;
        }
        return ok ? new InjectFaultStep(at, kind, vm, device, node, delay) : null;
    }

    private static Step? ExpectAsyncPf(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "expect-async-pf", context, ["vm", .. ExpectAsyncPfStep.CounterNames, "timeout"]);
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var conditions = new List<CounterCondition>();
        bool ok = true;
        foreach (var counter in ExpectAsyncPfStep.CounterNames)
        {
            if (!f.Has(counter)) continue;
            if (ReadCondition(f, counter) is { } condition) conditions.Add(condition);
            else ok = false;
        }
        if (conditions.Count == 0 && ok)
        {
            context.Error(value, $"expect-async-pf: name at least one counter ({string.Join(", ", ExpectAsyncPfStep.CounterNames)}) with a value such as 0 or \">= 1\"");
            return null;
        }
        return vm is null || !ok ? null : new ExpectAsyncPfStep(at, vm, conditions);
    }

    private static Step? ExpectPlacement(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "expect-placement", context, "vm", "vms", "node", "distinct", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm");
        var vms = f.StringList("vms");
        var node = f.String("node");
        var distinct = f.Bool("distinct");
        if (f.Has("vm") == f.Has("vms"))
        {
            context.Error(value, "expect-placement: give 'vm' (one VM) or 'vms' (a list), not both");
            return null;
        }
        if (!f.Has("node") && distinct != true)
        {
            if (!f.Has("distinct")) context.Error(value, "expect-placement: give 'node' (where the VMs must be) and/or 'distinct: true' (each on a different node)");
            return null;
        }
        if (vms is { Count: < 2 } && distinct == true)
        {
            f.Error("vms", "needs at least two VMs for 'distinct'");
            return null;
        }
        IReadOnlyList<string>? names = vm is not null ? [vm] : vms;
        if (names is null || (f.Has("node") && node is null) || (f.Has("distinct") && distinct is null)) return null;
        return new ExpectPlacementStep(at, names, node, distinct == true);
    }

    // 3, "= 3", ">= 1", "<= 10", "> 0", "< 5": a comparison and a non-negative integer.
    private static CounterCondition? ReadCondition(Fields f, string counter)
    {
        var text = f.String(counter);
        if (text is null) return null;
        var m = Regex.Match(text.Trim(), @"^(>=|<=|==|=|>|<)?\s*([0-9][0-9_]*)$");
        if (!m.Success || !long.TryParse(m.Groups[2].Value.Replace("_", ""), out var value))
        {
            f.Error(counter, $"must be a count, optionally after >=, <=, > or < (e.g. 0 or \">= 1\"), got '{text}'");
            return null;
        }
        var comparison = m.Groups[1].Value is "" or "=" ? "==" : m.Groups[1].Value;
        return new CounterCondition(counter, comparison, value);
    }

    // The KVM-VFIO device opens files by absolute path (VmSpec's rule, checked here with a location).
    private static string? VfioPathProblem(string path) =>
        path.Length > 0 && path[0] == '/' ? null : "must be an absolute path (VFIO files are e.g. /dev/vfio/12 or /dev/vfio/devices/vfio0)";

    private static Step? Vfio(VfioAction action, YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var keyword = action == VfioAction.Attach ? "attach-vfio" : "detach-vfio";
        var f = Fields.Of(value, keyword, context, "vm", "path", "expect-error", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var path = f.String("path", required: true)?.Trim();
        if (path is not null && VfioPathProblem(path) is { } problem)
        {
            f.Error("path", $"{problem}, got '{path}'");
            path = null;
        }
        ExpectedRefusal? expectError = null;
        bool expectErrorOk = true;
        if (f.Node("expect-error") is { } e)
        {
            expectError = ReadExpectedRefusal(e, keyword, context);
            expectErrorOk = expectError is not null;
        }
        return vm is null || path is null || !expectErrorOk ? null : new VfioStep(at, action, vm, path, expectError);
    }

    // expect-error: "text", or { kind: not-attached, text: "..." } (at least one of the two).
    private static ExpectedRefusal? ReadExpectedRefusal(YamlNode node, string keyword, ParseContext context)
    {
        if (node is YamlScalarNode s && !Fields.IsNull(s)) return new ExpectedRefusal(null, s.Value);
        var what = $"{keyword} expect-error";
        if (node is not YamlMappingNode)
        {
            context.Error(node, $"{what}: must be text (part of the refusal's message) or a mapping with 'kind' and/or 'text', got {Fields.Describe(node)}");
            return null;
        }
        var f = Fields.Of(node, what, context, "kind", "text");
        if (f is null) return null;
        var kind = f.Choice("kind", VfioErrorKinds.ByName);
        var text = f.String("text");
        if (!f.Has("kind") && !f.Has("text"))
        {
            context.Error(node, $"{what}: give 'kind' (one of {string.Join(", ", VfioErrorKinds.ByName.Keys)}) and/or 'text'");
            return null;
        }
        if ((f.Has("kind") && kind is null) || (f.Has("text") && text is null)) return null;
        return new ExpectedRefusal(kind, text);
    }

    private static Step? ExpectVfio(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "expect-vfio", context, "vm", "files", "non-coherent-dma", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var vm = f.String("vm", required: true);
        var files = f.StringList("files");
        var nonCoherent = f.Bool("non-coherent-dma");
        if (!f.Has("files") && !f.Has("non-coherent-dma"))
        {
            context.Error(value, "expect-vfio: give 'files' (the attached files' paths, [] for none) and/or 'non-coherent-dma' (true or false)");
            return null;
        }
        if ((f.Has("files") && files is null) || (f.Has("non-coherent-dma") && nonCoherent is null) || vm is null) return null;
        return new ExpectVfioStep(at, vm, files, nonCoherent);
    }

    private static Step? Repeat(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "repeat", context, "times", "steps", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var times = f.Int("times", 1, 100_000, required: true);
        var steps = f.Sequence("steps", required: true) is { } list ? ReadSteps(list, context, "repeat") : null;
        return times is null || steps is null ? null : new RepeatStep(at, times.Value, steps);
    }

    private static Step? Parallel(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        YamlSequenceNode? list;
        if (value is YamlSequenceNode seq)
        {
            list = seq;
        }
        else
        {
            var f = Fields.Of(value, "parallel", context, "steps", "timeout");
            if (f is null) return null;
            timeout = f.Duration("timeout");
            list = f.Sequence("steps", required: true);
        }
        if (list is null) return null;
        var steps = ReadSteps(list, context, "parallel");
        if (list.Children.Count == 1) context.Error(list, "parallel: a single branch runs nothing in parallel; give at least two steps");
        return new ParallelStep(at, steps);
    }

    private static Step? Measure(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "measure", context, "name", "steps", "at-most", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var name = f.String("name", required: true);
        var atMost = f.Duration("at-most");
        var steps = f.Sequence("steps", required: true) is { } list ? ReadSteps(list, context, "measure") : null;
        return name is null || steps is null ? null : new MeasureStep(at, name, steps, atMost);
    }

    private static Step? ExpectRejected(YamlNode value, ParseContext context, SourceLocation at, out TimeSpan? timeout)
    {
        timeout = null;
        var f = Fields.Of(value, "expect-rejected", context, "file", "error", "line", "column", "timeout");
        if (f is null) return null;
        timeout = f.Duration("timeout");
        var file = f.String("file", required: true);
        var error = f.String("error", required: true);
        var line = f.Int("line", 1, int.MaxValue);
        var column = f.Int("column", 1, int.MaxValue);
        if (column is not null && line is null) f.Error("column", "needs 'line' too");
        return file is null || error is null ? null : new ExpectRejectedStep(at, file, error, line, column);
    }
}

using Akka.Actor;

namespace Actorvisor.Host.Api.V1;

/// <summary>
/// Checks every API request in one place, before anything is placed or sent to a node. The first problem
/// found is returned as an <see cref="ApiErrorCode.InvalidRequest"/> naming the field (e.g. "spec.vcpus").
/// What a VM spec may ask of the nodes (vCPU and memory ranges, the library guests and their needs) is not the
/// API's to know: it comes as <see cref="VmSpecLimits"/> from whoever knows the nodes' hardware (the gateway, the CLI);
/// without them only the checks that need no such knowledge are made, and the node makes the rest.
/// </summary>
public static partial class ApiValidator
{
    /// <summary>The longest VM or node name.</summary>
    public const int MaxNameLength = 64;

    /// <summary>The longest image path.</summary>
    public const int MaxImageLength = 4096;

    /// <summary>The longest API token.</summary>
    public const int MaxTokenLength = 256;

    /// <summary>Boot modes a spec may ask for.</summary>
    public static readonly IReadOnlyList<string> BootModes = ["real", "protected", "long"];

    /// <summary>The restart policies a spec may name (absent means "never"); the node's registry parses the same names.</summary>
    public static readonly IReadOnlyList<string> RestartPolicies = ["never", "on-failure", "always"];

    /// <summary>Image formats a spec may name.</summary>
    public static readonly IReadOnlyList<string> Formats = ["flat", "elf", "bootsector", "multiboot"];

    /// <summary>The longest kernel command line.</summary>
    public const int MaxCommandLineLength = 4096;

    /// <summary>The smallest CPU limit: 1 ms of CPU time per 100 ms period, the kernel's minimum quota.</summary>
    public const double MinCpuLimit = 0.01;

    /// <summary>Most multiboot modules one spec may load.</summary>
    public const int MaxModules = 16;

    /// <summary>The most console input one request may carry, in UTF-8 bytes (the UART's receive queue holds as many).</summary>
    public const int MaxConsoleInputBytes = 4096;

    /// <summary>Null if <paramref name="request"/> is valid, else the first problem.</summary>
    /// <param name="request">The request to check.</param>
    /// <param name="limits">What the nodes can run; null checks a create request's spec without them.</param>
    public static ApiErrorReply? Validate(ApiRequest? request, VmSpecLimits? limits = null)
    {
        if (request is null) return ApiErrorReply.Invalid("request", "is missing");
        if (request.Token is { Length: > MaxTokenLength }) return ApiErrorReply.Invalid("token", $"is longer than {MaxTokenLength} characters");
        if (request.DeadlineMs is { } deadline && (deadline < 1 || deadline > RequestDeadline.Longest.TotalMilliseconds))
            return ApiErrorReply.Invalid("deadlineMs", $"{deadline} is outside 1..{RequestDeadline.Longest.TotalMilliseconds:0}");
        return request switch
        {
            CreateVmRequest r => Spec(r.Spec, limits),
            StartVmRequest r => Name("name", r.Name),
            PauseVmRequest r => Name("name", r.Name),
            ResumeVmRequest r => Name("name", r.Name),
            StopVmRequest r => Name("name", r.Name),
            DestroyVmRequest r => Name("name", r.Name),
            DescribeVmRequest r => Name("name", r.Name),
            ListVmsRequest r => r.Node is null ? null : Name("node", r.Node),
            ClusterStatusRequest => null,
            SubscribeConsoleRequest r => Name("name", r.Name) ?? Subscriber(r.Subscriber),
            SubscribeVmEventsRequest r => (r.Name is null ? null : Name("name", r.Name)) ?? Subscriber(r.Subscriber),
            UnsubscribeVmEventsRequest r => (r.Name is null ? null : Name("name", r.Name)) ?? Subscriber(r.Subscriber),
            SendConsoleInputRequest r => Name("name", r.Name) ?? ConsoleInput(r.Text),
            SnapshotVmRequest r => Name("name", r.Name) ?? SnapshotName("to", r.To),
            RestoreVmRequest r => Name("name", r.Name) ?? SnapshotName("from", r.From) ?? RestoreMode(r.Mode) ?? (r.Node is null ? null : Name("node", r.Node))
                ?? RestoreCpuLimit(r.CpuLimit),
            MigrateVmRequest r => Name("name", r.Name) ?? (r.Cancel ? null : Migration(r)),
            ListMigrationsRequest => null,
            _ => ApiErrorReply.Invalid("request", $"{request.GetType().Name} is not a request of API version 1"),
        };
    }

    /// <summary>Null if <paramref name="spec"/> is valid, else the first problem (fields prefixed "spec.").</summary>
    /// <param name="spec">The spec to check.</param>
    /// <param name="limits">What the nodes can run; null skips the checks that need it (ranges, library guests).</param>
    public static ApiErrorReply? Spec(ApiVmSpec? spec, VmSpecLimits? limits = null)
    {
        if (spec is null) return ApiErrorReply.Invalid("spec", "is missing");
        if (Name("spec.name", spec.Name) is { } name) return name;
        if (spec.Vcpus < 1 || spec.Vcpus > (limits?.MaxVcpus ?? int.MaxValue))
            return ApiErrorReply.Invalid("spec.vcpus", limits is null ? $"{spec.Vcpus} is less than 1" : $"{spec.Vcpus} is outside 1..{limits.MaxVcpus}");
        if (limits is not null && spec.MemoryBytes < limits.MinMemoryBytes)
            return ApiErrorReply.Invalid("spec.memoryBytes", $"{spec.MemoryBytes} bytes is less than the minimum of {limits.MinMemoryBytes} ({limits.MinMemoryBytes >> 20} MiB)");
        if (limits is not null && spec.MemoryBytes > limits.MaxMemoryBytes)
            return ApiErrorReply.Invalid("spec.memoryBytes", $"{spec.MemoryBytes} bytes is more than the maximum of {limits.MaxMemoryBytes} ({limits.MaxMemoryBytes >> 20} MiB)");
        if (spec.MemoryBytes == 0) return ApiErrorReply.Invalid("spec.memoryBytes", "is zero");
        if (spec.MemoryBytes % 4096 != 0)
            return ApiErrorReply.Invalid("spec.memoryBytes", $"{spec.MemoryBytes} is not a multiple of 4 KiB");
        if (string.IsNullOrWhiteSpace(spec.Image))
            return ApiErrorReply.Invalid("spec.image", $"is missing: name a library guest{GuestList(limits)} or an image file on the node");
        if (spec.Image.Length > MaxImageLength)
            return ApiErrorReply.Invalid("spec.image", $"is longer than {MaxImageLength} characters");
        if (spec.Image.Any(char.IsControl))
            return ApiErrorReply.Invalid("spec.image", "contains control characters");
        if (!IsImagePath(spec.Image) && limits is not null)
        {
            if (limits.FindGuest(spec.Image) is not { } guest)
                return ApiErrorReply.Invalid("spec.image", $"'{spec.Image}' is not a library guest{GuestList(limits)}; a file on the node is named by a path containing '/'");
            if (spec.Vcpus < guest.Vcpus)
                return ApiErrorReply.Invalid("spec.vcpus", $"guest '{guest.Name}' needs {guest.Vcpus} vCPUs, the spec gives {spec.Vcpus}");
            if (spec.MemoryBytes < guest.MinimumMemoryBytes)
                return ApiErrorReply.Invalid("spec.memoryBytes", $"guest '{guest.Name}' needs at least {guest.MinimumMemoryBytes} bytes");
        }
        if (spec.CpuLimit is { } limit && !(limit >= MinCpuLimit && limit <= spec.Vcpus))
            return ApiErrorReply.Invalid("spec.cpuLimit", $"{limit.ToString(System.Globalization.CultureInfo.InvariantCulture)} is outside {MinCpuLimit.ToString(System.Globalization.CultureInfo.InvariantCulture)}..{spec.Vcpus} (CPUs: at most one per vCPU)");
        if (BootProtocol(spec) is { } protocol) return protocol;
        if (spec.BootMode is { } mode && !BootModes.Contains(mode))
            return ApiErrorReply.Invalid("spec.bootMode", $"'{mode}' is not a boot mode ({string.Join(", ", BootModes)})");
        if (spec.Node is not null && Name("spec.node", spec.Node) is { } node) return node;
        if (spec.Restart is { } restart && !RestartPolicies.Contains(restart))
            return ApiErrorReply.Invalid("spec.restart", $"'{Printable(restart)}' is not a restart policy ({string.Join(", ", RestartPolicies)})");
        if (spec.VsockCid is { } cid && cid is < MinVsockCid or > MaxVsockCid)
            return ApiErrorReply.Invalid("spec.vsockCid", $"{cid} is reserved or too large: a guest CID is {MinVsockCid}..{MaxVsockCid}");
        if (spec.VsockCid is not null && (spec.Disks?.Count ?? 0) + (spec.Nets?.Count ?? 0) + 1 > MaxDisks)
            return ApiErrorReply.Invalid("spec.vsockCid", $"a vsock device after {spec.Disks?.Count ?? 0} disks and {spec.Nets?.Count ?? 0} network cards; a machine has at most {MaxDisks} virtio devices");
        return Disks(spec.Disks) ?? Nets(spec.Nets, spec.Disks?.Count ?? 0);
    }

    /// <summary>The smallest guest CID (0-2 are the hypervisor's, the loopback's and the host's).</summary>
    public const ulong MinVsockCid = 3;

    /// <summary>The largest guest CID (0xffffffff is VMADDR_CID_ANY).</summary>
    public const ulong MaxVsockCid = 0xffff_fffe;

    // Each card "tap=NAME[,mac=..]", and no more virtio devices than the machine has slots. The node parses the same form
    // (VirtioNetSpec.Parse); the rules are repeated here because the API knows nothing of the hardware layer.
    private static ApiErrorReply? Nets(IReadOnlyList<string>? nets, int disks)
    {
        if (nets is null) return null;
        if (disks + nets.Count > MaxDisks)
            return ApiErrorReply.Invalid("spec.nets", $"has {nets.Count} network cards after {disks} disks; a machine has at most {MaxDisks} virtio devices");
        var taps = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < nets.Count; i++)
        {
            string field = $"spec.nets[{i}]";
            string? tap = null, mac = null;
            foreach (var part in (nets[i] ?? "").Split(','))
            {
                int eq = part.IndexOf('=');
                string key = eq < 0 ? part : part[..eq], value = eq < 0 ? "" : part[(eq + 1)..];
                if (key == "tap" && tap is null) tap = value;
                else if (key == "mac" && mac is null) mac = value;
                else return ApiErrorReply.Invalid(field, $"'{Printable(key)}' is not a network option or is repeated (expected tap=NAME[,mac=..])");
            }
            if (tap is null) return ApiErrorReply.Invalid(field, "names no tap interface (expected tap=NAME[,mac=..])");
            if (tap.Length is 0 or > MaxTapNameLength || tap is "." or ".." || !tap.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                return ApiErrorReply.Invalid(field, $"tap '{Printable(tap)}' is not an interface name (1 to {MaxTapNameLength} letters, digits, '-', '_' or '.')");
            if (!taps.Add(tap)) return ApiErrorReply.Invalid(field, $"tap '{tap}' is already another card's");
            if (mac is not null && !(MacPattern().IsMatch(mac) && (Convert.ToByte(mac[..2], 16) & 1) == 0))
                return ApiErrorReply.Invalid(field, $"'{Printable(mac)}' is not a unicast MAC address (six hexadecimal bytes, e.g. 52:54:00:12:34:56)");
        }
        return null;
    }

    /// <summary>The longest tap interface name (IFNAMSIZ less the NUL).</summary>
    public const int MaxTapNameLength = 15;

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9a-fA-F]{2}((:[0-9a-fA-F]{2}){5}|(-[0-9a-fA-F]{2}){5})$")]
    private static partial System.Text.RegularExpressions.Regex MacPattern();

    /// <summary>The most virtio-blk disks a spec may name (the machine's virtio-mmio slots, which network cards share).</summary>
    public const int MaxDisks = 7;

    // Each disk "FILE[,ro]" (or "FILE,rw"): a file named like an image, at most MaxDisks of them. The node parses the same form.
    private static ApiErrorReply? Disks(IReadOnlyList<string>? disks)
    {
        if (disks is null) return null;
        if (disks.Count > MaxDisks)
            return ApiErrorReply.Invalid("spec.disks", $"has {disks.Count} disks; at most {MaxDisks}");
        for (int i = 0; i < disks.Count; i++)
        {
            var d = disks[i];
            string field = $"spec.disks[{i}]";
            if (string.IsNullOrEmpty(d)) return ApiErrorReply.Invalid(field, "names no file (expected FILE[,ro])");
            if (d.Length > MaxImageLength) return ApiErrorReply.Invalid(field, $"is longer than {MaxImageLength} characters");
            if (d.Any(char.IsControl)) return ApiErrorReply.Invalid(field, "contains control characters");
            int comma = d.LastIndexOf(',');
            if (comma >= 0 && d[(comma + 1)..] is not ("ro" or "rw"))
                return ApiErrorReply.Invalid(field, $"'{Printable(d[(comma + 1)..])}' is not a disk option (expected FILE[,ro] or FILE,rw)");
            if (comma == 0) return ApiErrorReply.Invalid(field, "names no image file (expected FILE[,ro])");
        }
        return null;
    }

    // The image-file fields: a known format, and a command line and modules only for a multiboot kernel file.
    private static ApiErrorReply? BootProtocol(ApiVmSpec spec)
    {
        bool file = IsImagePath(spec.Image);
        if (spec.Format is { } format)
        {
            if (!file) return ApiErrorReply.Invalid("spec.format", "applies to image files only, not library guests");
            if (!Formats.Contains(format)) return ApiErrorReply.Invalid("spec.format", $"'{Printable(format)}' is not an image format ({string.Join(", ", Formats)})");
        }
        bool multibootFields = spec.CommandLine is not null || spec.Modules is { Count: > 0 };
        if (multibootFields && (!file || spec.Format is not (null or "multiboot")))
            return ApiErrorReply.Invalid(spec.CommandLine is not null ? "spec.commandLine" : "spec.modules", "applies to multiboot kernel files only");
        if (spec.CommandLine is { } line)
        {
            if (line.Length > MaxCommandLineLength) return ApiErrorReply.Invalid("spec.commandLine", $"is longer than {MaxCommandLineLength} characters");
            if (line.Any(char.IsControl)) return ApiErrorReply.Invalid("spec.commandLine", "contains control characters");
        }
        if (spec.Modules is { } modules)
        {
            if (modules.Count > MaxModules) return ApiErrorReply.Invalid("spec.modules", $"has {modules.Count} modules; at most {MaxModules}");
            for (int i = 0; i < modules.Count; i++)
            {
                var m = modules[i];
                string field = $"spec.modules[{i}]";
                if (string.IsNullOrEmpty(m) || m[0] == '=') return ApiErrorReply.Invalid(field, "names no file (expected FILE[=STRING])");
                if (m.Length > MaxImageLength) return ApiErrorReply.Invalid(field, $"is longer than {MaxImageLength} characters");
                if (m.Any(char.IsControl)) return ApiErrorReply.Invalid(field, "contains control characters");
            }
        }
        return null;
    }

    /// <summary>
    /// True if <paramref name="image"/> names an image file on the node (it contains a '/', which no library guest's
    /// name does) rather than a library guest.
    /// </summary>
    /// <param name="image">A spec's image.</param>
    public static bool IsImagePath(string image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return image.Contains('/');
    }

    private static string GuestList(VmSpecLimits? limits) =>
        limits is null ? "" : $" ({string.Join(", ", limits.LibraryGuests.Select(g => g.Name))})";

    // A restore's CPU limit: its upper bound is the snapshot's vCPU count, which only the node holding it knows.
    /// <summary>The post-copy modes a migration may name (absent means "never").</summary>
    public static IReadOnlyList<string> PostcopyModes { get; } = ["auto", "never", "always"];

    /// <summary>The longest pause a migration may aim for, in milliseconds.</summary>
    public const int MaxMigrationDowntimeMs = 60_000;

    private static ApiErrorReply? Migration(MigrateVmRequest r)
    {
        if (r.To is not null && Name("to", r.To) is { } to) return to;
        if (r.MaxDowntimeMs is { } ms && (ms < 1 || ms > MaxMigrationDowntimeMs))
            return ApiErrorReply.Invalid("maxDowntimeMs", $"{ms} is outside 1..{MaxMigrationDowntimeMs}");
        if (r.Postcopy is { } mode && !PostcopyModes.Contains(mode))
            return ApiErrorReply.Invalid("postcopy", $"'{mode}' is not one of {string.Join(", ", PostcopyModes)}");
        if (r.BandwidthBytesPerSecond is 0) return ApiErrorReply.Invalid("bandwidthBytesPerSecond", "must be more than 0");
        return null;
    }

    private static ApiErrorReply? RestoreCpuLimit(double? limit) =>
        limit is { } l && !(l >= MinCpuLimit && double.IsFinite(l))
            ? ApiErrorReply.Invalid("cpuLimit", $"{l.ToString(System.Globalization.CultureInfo.InvariantCulture)} is less than {MinCpuLimit.ToString(System.Globalization.CultureInfo.InvariantCulture)} or not a number")
            : null;

    /// <summary>The restore modes a <see cref="RestoreVmRequest"/> may name.</summary>
    public static IReadOnlyList<string> RestoreModes { get; } = ["eager", "lazy", "mmap"];

    /// <summary>
    /// Null if <paramref name="value"/> is a snapshot name: a VM name (see <see cref="Name"/>) that does not start with '.'
    /// (no '.' or '..', no hidden or partial directory), so that it is one entry of a snapshot directory.
    /// </summary>
    public static ApiErrorReply? SnapshotName(string field, string? value)
    {
        if (Name(field, value) is { } error) return error;
        if (value![0] == '.') return ApiErrorReply.Invalid(field, $"'{Printable(value)}' starts with '.'; a snapshot is named, not a path");
        return null;
    }

    private static ApiErrorReply? RestoreMode(string? mode) =>
        mode is not null && RestoreModes.Contains(mode) ? null : ApiErrorReply.Invalid("mode", $"'{Printable(mode ?? "")}' is not a restore mode ({string.Join(", ", RestoreModes)})");

    /// <summary>Null if <paramref name="value"/> is a valid VM or node name, else a problem naming <paramref name="field"/>.</summary>
    /// <param name="field">The field it came in (named in the problem).</param>
    /// <param name="value">The name.</param>
    public static ApiErrorReply? Name(string field, string? value)
    {
        if (string.IsNullOrEmpty(value)) return ApiErrorReply.Invalid(field, "is missing");
        if (value.Length > MaxNameLength) return ApiErrorReply.Invalid(field, $"is longer than {MaxNameLength} characters");
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                return ApiErrorReply.Invalid(field, $"'{Printable(value)}' contains '{Printable(c.ToString())}'; use letters, digits, '-', '_' and '.'");
        }
        return null;
    }

    private static ApiErrorReply? ConsoleInput(string? text)
    {
        if (string.IsNullOrEmpty(text)) return ApiErrorReply.Invalid("text", "is missing: give the characters to type");
        int bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        return bytes > MaxConsoleInputBytes
            ? ApiErrorReply.Invalid("text", $"is {bytes} bytes (UTF-8); at most {MaxConsoleInputBytes} per request, send the rest in further requests")
            : null;
    }

    private static ApiErrorReply? Subscriber(IActorRef? subscriber) =>
        subscriber is null || subscriber.IsNobody() ? ApiErrorReply.Invalid("subscriber", "is missing: name the actor that receives the stream") : null;

    // Names echoed in errors must not smuggle control characters into a terminal or log.
    private static string Printable(string s) => new(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}

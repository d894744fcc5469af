namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// The character-device part of /proc/devices: which driver registered which major number. VFIO's group
/// nodes (/dev/vfio/N) use the major registered as "vfio", its device nodes (/dev/vfio/devices/vfioN) the
/// major registered as "vfio-dev"; both are allocated when the vfio module loads, so they are looked up,
/// never assumed.
/// </summary>
public sealed class ProcDevices
{
    /// <summary>The driver name VFIO registers for its group character devices (drivers/vfio/group.c).</summary>
    public const string VfioGroupDriver = "vfio";

    /// <summary>The driver name VFIO registers for its device character devices (drivers/vfio/device_cdev.c).</summary>
    public const string VfioDeviceDriver = "vfio-dev";

    private readonly Dictionary<uint, List<string>> _characterMajors;

    private ProcDevices(Dictionary<uint, List<string>> characterMajors) => _characterMajors = characterMajors;

    /// <summary>Reads /proc/devices now (a module loaded since the last read shows up).</summary>
    public static ProcDevices Read() => Parse(File.ReadAllText("/proc/devices"));

    /// <summary>Parses the text of /proc/devices: "Character devices:", then lines "major name", then "Block devices:".</summary>
    public static ProcDevices Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var majors = new Dictionary<uint, List<string>>();
        bool inCharacter = false;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            if (line.EndsWith(':'))
            {
                inCharacter = line.StartsWith("Character", StringComparison.Ordinal);
                continue;
            }
            if (!inCharacter) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || !uint.TryParse(line.AsSpan(0, space), out uint major)) continue;
            if (!majors.TryGetValue(major, out var names)) majors[major] = names = [];
            names.Add(line[(space + 1)..].Trim());
        }
        return new ProcDevices(majors);
    }

    /// <summary>The drivers registered for character major <paramref name="major"/> (several share e.g. 4: "tty", "ttyS").</summary>
    public IReadOnlyList<string> CharacterDrivers(uint major) =>
        _characterMajors.TryGetValue(major, out var names) ? names : [];

    /// <summary>The character major registered by <paramref name="driver"/>, or null if none (the module is not loaded).</summary>
    public uint? CharacterMajor(string driver) =>
        _characterMajors.Where(kv => kv.Value.Contains(driver, StringComparer.Ordinal)).Select(kv => (uint?)kv.Key).FirstOrDefault();
}

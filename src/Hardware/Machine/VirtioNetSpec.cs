using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Machines;

/// <summary>
/// A virtio-net card of a machine: the host tap interface behind it (opened, or created if there is none, when the
/// machine is built) and the card's MAC address (null: a stable locally administered one derived from the tap name).
/// </summary>
public sealed record VirtioNetSpec
{
    /// <summary>The tap interface's name (see <see cref="TapInterfaceName"/>).</summary>
    public required string Tap { get; init; }

    /// <summary>The card's address, or null for <see cref="MacAddress.LocallyAdministered"/> of the tap name.</summary>
    public MacAddress? Mac { get; init; }

    /// <summary>The address the guest sees.</summary>
    public MacAddress EffectiveMac => Mac ?? MacAddress.LocallyAdministered(Tap);

    /// <summary>
    /// Parses the CLI and API form <c>tap=NAME[,mac=XX:XX:XX:XX:XX:XX]</c>.
    /// </summary>
    /// <exception cref="ArgumentException">a key is unknown or repeated, the tap is missing or its name invalid, or the MAC malformed.</exception>
    public static VirtioNetSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string? tap = null;
        MacAddress? mac = null;
        foreach (var part in text.Split(','))
        {
            int eq = part.IndexOf('=');
            string key = eq < 0 ? part : part[..eq], value = eq < 0 ? "" : part[(eq + 1)..];
            switch (key)
            {
                case "tap" when tap is null:
                    tap = value;
                    break;
                case "mac" when mac is null:
                    try { mac = MacAddress.Parse(value); }
                    catch (FormatException e) { throw new ArgumentException(e.Message); }
                    break;
                case "tap" or "mac":
                    throw new ArgumentException($"'{key}' is given twice (expected tap=NAME[,mac=..])");
                default:
                    throw new ArgumentException($"'{key}' is not a network option (expected tap=NAME[,mac=..])");
            }
        }
        if (tap is null) throw new ArgumentException("names no tap interface (expected tap=NAME[,mac=..])");
        if (TapInterfaceName.Check(tap) is { } problem) throw new ArgumentException($"tap '{tap}': {problem}");
        return new VirtioNetSpec { Tap = tap, Mac = mac };
    }

    /// <inheritdoc />
    public override string ToString() => Mac is { } mac ? $"tap={Tap},mac={mac}" : $"tap={Tap}";
}

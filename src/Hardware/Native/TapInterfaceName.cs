namespace Actorvisor.Hardware.Native;

/// <summary>
/// The rule for a tap interface name a client may give: 1 to 15 characters (IFNAMSIZ less the NUL) of ASCII letters,
/// digits, '-', '_' and '.', not "." or ".." (the kernel's dev_valid_name also refuses '/', ':' and white space; this
/// is stricter so that a name is also safe in a command line or a path).
/// </summary>
public static class TapInterfaceName
{
    /// <summary>The longest name.</summary>
    public const int MaxLength = TapDevice.InterfaceNameSize - 1;

    /// <summary>Null if <paramref name="name"/> is allowed, else why not.</summary>
    public static string? Check(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "an interface name is required";
        if (name.Length > MaxLength) return $"an interface name has at most {MaxLength} characters, this has {name.Length}";
        if (name is "." or "..") return "an interface name cannot be '.' or '..'";
        foreach (char c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                return $"an interface name has only letters, digits, '-', '_' and '.'; '{(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())}' is not allowed";
        return null;
    }
}

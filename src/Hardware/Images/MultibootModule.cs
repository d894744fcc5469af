using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Images;

/// <summary>A file a multiboot loader loads beside the kernel (an initrd, a configuration), with the string it passes for it.</summary>
/// <param name="Path">The module file.</param>
/// <param name="CommandLine">The module's string in the multiboot information (by default the path as given).</param>
public sealed record MultibootModule(string Path, string CommandLine)
{
    /// <summary>
    /// The module file already opened through a <see cref="ConfinedDirectory"/> (a client-named path), read through
    /// it instead of <see cref="Path"/>; null: read from <see cref="Path"/>. The <see cref="MultibootImageFile"/> holding the module owns it and closes it.
    /// </summary>
    public ConfinedFile? File { get; init; }

    /// <summary>
    /// Parses the command line's <c>FILE[=STRING]</c>: the file, and after the first '=' the module's string
    /// (without one, the string is FILE as written).
    /// </summary>
    /// <exception cref="ArgumentException">FILE is empty.</exception>
    public static MultibootModule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int eq = text.IndexOf('=');
        string path = eq < 0 ? text : text[..eq];
        if (path.Length == 0) throw new ArgumentException($"'{text}' names no module file (expected FILE[=STRING])", nameof(text));
        return new MultibootModule(path, eq < 0 ? text : text[(eq + 1)..]);
    }
}

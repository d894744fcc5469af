using System.Globalization;

namespace Actorvisor.Hardware.Cgroups;

/// <summary>Reads and writes of cgroup v2 interface files, with the file named in the error a write gets.</summary>
internal static class CgroupFiles
{
    /// <summary>Writes <paramref name="value"/> to <paramref name="file"/> in one write(2), as the kernel's interface files expect.</summary>
    /// <exception cref="IOException">the kernel refused it (its errno in the message), naming the file and the value.</exception>
    public static void Write(string file, string value)
    {
        try
        {
            using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Write);
            RandomAccess.Write(handle, System.Text.Encoding.ASCII.GetBytes(value), 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"writing '{value}' to {file} failed: {e.Message}", e);
        }
    }

    /// <summary>The whitespace-separated words of <paramref name="file"/>.</summary>
    public static string[] ReadWords(string file) => File.ReadAllText(file).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>One id a line (cgroup.threads, cgroup.procs).</summary>
    public static IReadOnlyList<int> ReadIds(string file) => ReadWords(file).Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToList();

    /// <summary>The value of <paramref name="key"/> in a flat keyed file (cpu.stat).</summary>
    public static long ReadStat(string file, string key)
    {
        foreach (var line in File.ReadLines(file))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == key) return long.Parse(parts[1], CultureInfo.InvariantCulture);
        }
        throw new InvalidDataException($"{file} has no {key}");
    }
}

using System.Runtime.InteropServices;

namespace Actorvisor.Host.Bench;

/// <summary>Reads how much of this process's memory is resident (from /proc and mincore(2)).</summary>
public static partial class ProcessMemory
{
    /// <summary>VmRSS of this process in bytes.</summary>
    public static long ResidentBytes() => ResidentBytesIn("/proc/self/status");

    /// <summary>VmRSS of process <paramref name="pid"/> (e.g. a node this process started) in bytes.</summary>
    public static long ResidentBytesOfProcess(int pid) => ResidentBytesIn($"/proc/{pid}/status");

    private static long ResidentBytesIn(string statusFile)
    {
        foreach (var line in File.ReadLines(statusFile))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"{statusFile} has no VmRSS line");
    }

    /// <summary>Resident bytes of the range [address, address + size) (page-aligned), by mincore(2).</summary>
    public static unsafe long ResidentBytesOf(nint address, ulong size)
    {
        ulong pages = (size + 4095) / 4096;
        var vec = new byte[pages];
        fixed (byte* v = vec)
        {
            if (mincore(address, (nuint)size, v) != 0)
                throw new InvalidOperationException($"mincore failed: errno {Marshal.GetLastPInvokeError()}");
        }
        return vec.LongCount(b => (b & 1) != 0) * 4096;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int mincore(nint addr, nuint length, byte* vec);
}

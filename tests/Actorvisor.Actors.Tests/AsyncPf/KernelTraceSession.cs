using System.Globalization;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>
/// A tracefs instance of its own (/sys/kernel/tracing/instances/NAME: a private ring buffer, so the global one and
/// other readers are left alone) with some events of one kernel subsystem enabled. Owns the instance: the records
/// it collected are read with <see cref="Read"/>, and disposing it disables the events and removes the instance.
/// Needs root and a mounted tracefs (the KVM harness mounts it in its L1).
/// </summary>
public sealed class KernelTraceSession : IDisposable
{
    /// <summary>Where tracefs is mounted.</summary>
    public const string TracefsRoot = "/sys/kernel/tracing";

    private static int _sessions;
    private readonly string _instance;
    private readonly string _system;
    private bool _disposed;

    private KernelTraceSession(string instance, string system, IReadOnlyList<string> enabled, IReadOnlyList<string> missing)
    {
        _instance = instance;
        _system = system;
        Enabled = enabled;
        Missing = missing;
    }

    /// <summary>The events that exist in this kernel and are enabled.</summary>
    public IReadOnlyList<string> Enabled { get; }

    /// <summary>The events asked for that this kernel does not have.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>
    /// Creates the instance with a buffer of <paramref name="bufferKbPerCpu"/> KiB per CPU and enables those of
    /// <paramref name="events"/> (of subsystem <paramref name="system"/>, e.g. "kvm") that exist.
    /// </summary>
    /// <exception cref="InvalidOperationException">tracefs is not mounted, the subsystem has no events, or the instance cannot be made (not root).</exception>
    public static KernelTraceSession Start(string system, IEnumerable<string> events, int bufferKbPerCpu = 8192)
    {
        string systemEvents = Path.Combine(TracefsRoot, "events", system);
        if (!Directory.Exists(systemEvents))
            throw new InvalidOperationException($"{systemEvents} does not exist: tracefs is not mounted at {TracefsRoot} or the kernel has no '{system}' events (module not loaded?)");
        string instance = Path.Combine(TracefsRoot, "instances", $"actorvisor-{Environment.ProcessId}-{Interlocked.Increment(ref _sessions)}");
        try
        {
            Directory.CreateDirectory(instance);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new InvalidOperationException($"cannot create the tracefs instance {instance} (root is needed): {e.Message}", e);
        }
        var enabled = new List<string>();
        var missing = new List<string>();
        var session = new KernelTraceSession(instance, system, enabled, missing);
        try
        {
            Write(Path.Combine(instance, "buffer_size_kb"), bufferKbPerCpu.ToString(CultureInfo.InvariantCulture));
            foreach (var name in events)
            {
                string enable = Path.Combine(instance, "events", system, name, "enable");
                if (!File.Exists(enable)) { missing.Add(name); continue; }
                Write(enable, "1");
                enabled.Add(name);
            }
            Write(Path.Combine(instance, "tracing_on"), "1");
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Every record of the enabled events in the instance's buffer so far (reading does not consume them).</summary>
    public IReadOnlyList<KernelTraceRecord> Read()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var records = new List<KernelTraceRecord>();
        using var reader = new StreamReader(Path.Combine(_instance, "trace"));
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith('#')) continue;
            foreach (var name in Enabled)
            {
                string marker = $" {name}: ";
                int at = line.IndexOf(marker, StringComparison.Ordinal);
                if (at < 0) continue;
                records.Add(new KernelTraceRecord(name, line[(at + marker.Length)..]));
                break;
            }
        }
        return records;
    }

    /// <summary>Records the buffer dropped because it was full, summed over the CPUs (per_cpu/cpuN/stats "overrun:").</summary>
    public long Overruns()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long overruns = 0;
        foreach (var cpu in Directory.EnumerateDirectories(Path.Combine(_instance, "per_cpu")))
        {
            foreach (var line in File.ReadLines(Path.Combine(cpu, "stats")))
                if (line.StartsWith("overrun:", StringComparison.Ordinal)) overruns += long.Parse(line["overrun:".Length..].Trim(), CultureInfo.InvariantCulture);
        }
        return overruns;
    }

    /// <summary>Disables the events and removes the instance (and its buffer).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            foreach (var name in Enabled) Write(Path.Combine(_instance, "events", _system, name, "enable"), "0");
        }
        finally
        {
            // rmdir on a tracefs instance removes it with its files.
            Directory.Delete(_instance);
        }
    }

    private static void Write(string path, string value)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        using var writer = new StreamWriter(stream);
        writer.Write(value);
    }
}

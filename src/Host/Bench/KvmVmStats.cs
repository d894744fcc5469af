using System.Globalization;
using System.Text;

namespace Actorvisor.Host.Bench;

/// <summary>
/// One moment's KVM statistics of the VMs one process owns, read from debugfs (/sys/kernel/debug/kvm/PID-FD/*: exits,
/// halt_exits, mmio_exits, io_exits, irq_injections ...), summed over the process's VMs: owns the counters, and says which
/// moved between two moments. A benchmark uses it to compare the exits two VMMs' guests took for the same work. Empty
/// when debugfs is not mounted or the kernel keeps no per-VM directory.
/// </summary>
public sealed class KvmVmStats
{
    private const string Root = "/sys/kernel/debug/kvm";

    private KvmVmStats(Dictionary<string, long> counters) => Counters = counters;

    private Dictionary<string, long> Counters { get; }

    /// <summary>Reads the counters of process <paramref name="processId"/>'s VMs now.</summary>
    public static KvmVmStats Take(int processId)
    {
        var counters = new Dictionary<string, long>(StringComparer.Ordinal);
        string prefix = processId.ToString(CultureInfo.InvariantCulture) + "-";
        try
        {
            foreach (var vm in Directory.EnumerateDirectories(Root, prefix + "*"))
            {
                foreach (var file in Directory.EnumerateFiles(vm))
                {
                    try
                    {
                        if (long.TryParse(File.ReadAllText(file).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long value))
                        {
                            string name = Path.GetFileName(file);
                            counters[name] = counters.GetValueOrDefault(name) + value;
                        }
                    }
                    catch (IOException)
                    {
                    }
                    catch (UnauthorizedAccessException)
                    {
                    }
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return new KvmVmStats(counters);
    }

    /// <summary>The counters that grew between <paramref name="from"/> and <paramref name="to"/>, as "name +delta", largest first; or why there are none.</summary>
    public static string Describe(KvmVmStats from, KvmVmStats to)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        if (to.Counters.Count == 0) return $"no KVM statistics (is debugfs mounted at {Root}?)";
        var grown = to.Counters
            .Select(c => (c.Key, Delta: c.Value - from.Counters.GetValueOrDefault(c.Key)))
            .Where(c => c.Delta > 0)
            .OrderByDescending(c => c.Delta);
        var text = new StringBuilder("kvm:");
        foreach (var (name, delta) in grown) text.Append(CultureInfo.InvariantCulture, $" {name} +{delta}");
        return text.ToString();
    }
}

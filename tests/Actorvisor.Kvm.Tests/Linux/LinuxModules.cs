namespace Actorvisor.Kvm.Tests.Linux;

/// <summary>
/// The L1 kernel's loadable modules for test initramfs images: resolves module names to their .ko files with everything
/// modules.dep says they need, in an order insmod can load them one by one.
/// </summary>
internal static class LinuxModules
{
    /// <summary>The newest /boot/vmlinuz-* the L1 sees and its release (the /lib/modules directory name).</summary>
    public static (string Kernel, string Release) Kernel()
    {
        var kernel = Directory.GetFiles("/boot", "vmlinuz-*").OrderBy(p => p, StringComparer.Ordinal).LastOrDefault()
                     ?? throw new InvalidOperationException("no /boot/vmlinuz-* inside the harness L1 (init.sh binds the host's /boot)");
        return (kernel, Path.GetFileName(kernel)["vmlinuz-".Length..]);
    }

    /// <summary>The paths (relative to <paramref name="moduleDir"/>) of <paramref name="names"/> and their dependencies, in load order.</summary>
    /// <exception cref="InvalidOperationException">a module is built in, compressed or missing.</exception>
    public static IReadOnlyList<string> LoadOrder(string moduleDir, IEnumerable<string> names)
    {
        var dep = File.ReadAllLines(Path.Combine(moduleDir, "modules.dep"))
            .Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var order = new List<string>();
        void Add(string path)
        {
            if (order.Contains(path)) return;
            foreach (var d in dep[path].Reverse()) Add(d);
            order.Add(path);
        }
        foreach (var name in names)
        {
            var path = dep.Keys.FirstOrDefault(k => Path.GetFileName(k) == name + ".ko")
                       ?? throw new InvalidOperationException($"module {name} is not an uncompressed .ko in {moduleDir}/modules.dep (built in or compressed: these tests load plain .ko files)");
            Add(path);
        }
        return order;
    }
}

using System.Text;

namespace Actorvisor.Kvm.Tests.Linux;

/// <summary>
/// The initramfs the Linux-guest tests boot the L1's Debian kernel with: the L1's static busybox, an /init script, and
/// kernel modules from the L1's /lib/modules with everything modules.dep says they need, in load order (listed in
/// /modules.order; the /init loads them from /modules).
/// </summary>
internal static class LinuxTestInitramfs
{
    /// <summary>The archive for <paramref name="init"/> with <paramref name="modules"/> (names without .ko) from <paramref name="moduleDir"/>.</summary>
    public static byte[] Build(string moduleDir, IEnumerable<string> modules, string init)
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
        foreach (var name in modules)
        {
            var path = dep.Keys.FirstOrDefault(k => Path.GetFileName(k) == name + ".ko")
                       ?? throw new InvalidOperationException($"module {name} is not an uncompressed .ko in {moduleDir}/modules.dep (built in or compressed: this test loads plain .ko files)");
            Add(path);
        }
        var archive = new NewcArchive()
            .Directory("bin").Directory("dev").Directory("proc").Directory("modules")
            .CharacterDevice("dev/console", 5, 1)
            .File("bin/busybox", File.ReadAllBytes("/usr/bin/busybox"))
            .File("init", Encoding.ASCII.GetBytes(init.Replace("\r\n", "\n") + "\n"))
            .File("modules.order", Encoding.ASCII.GetBytes(string.Join('\n', order.Select(Path.GetFileName)) + "\n"), 0x1a4);
        foreach (var path in order) archive.File("modules/" + Path.GetFileName(path), File.ReadAllBytes(Path.Combine(moduleDir, path)), 0x1a4);
        return archive.Build();
    }

    /// <summary>The newest /boot/vmlinuz-* of the L1 and its module directory.</summary>
    public static (string Kernel, string ModuleDir) L1Kernel()
    {
        var kernel = Directory.GetFiles("/boot", "vmlinuz-*").OrderBy(p => p, StringComparer.Ordinal).LastOrDefault()
                     ?? throw new InvalidOperationException("no /boot/vmlinuz-* inside the harness L1 (init.sh binds the host's /boot)");
        return (kernel, $"/lib/modules/{Path.GetFileName(kernel)["vmlinuz-".Length..]}");
    }
}

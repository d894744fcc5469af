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
        var order = LinuxModules.LoadOrder(moduleDir, modules);
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
        var (kernel, release) = LinuxModules.Kernel();
        return (kernel, $"/lib/modules/{release}");
    }
}

using System.Diagnostics;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// A network namespace made for the host side of a tap (`ip netns add`) by a test or a bench, so that its traffic stays
/// between the tap and that namespace (nothing leaves the machine): owns the namespace and the processes started in it. <see cref="Adopt"/> moves a tap into it, gives it an address and brings it
/// up (IPv6 off, so the only frames on the link are the test's and the ARP they cause). Runs `ip`, so it needs root;
/// <see cref="Unavailable"/> says why it cannot run. Disposing stops what <see cref="Start"/> started and deletes
/// the namespace (with the taps moved into it).
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private readonly List<Process> _started = [];

    private NetworkNamespace(string name) => Name = name;

    /// <summary>The namespace's name.</summary>
    public string Name { get; }

    /// <summary>The ip(8) executable, or null.</summary>
    public static string? IpTool => new[] { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" }.FirstOrDefault(File.Exists);

    /// <summary>Null if namespaces and taps can be made here, else why not (a reason to skip).</summary>
    public static string? Unavailable =>
        !Environment.IsPrivilegedProcess ? "creating network namespaces and taps needs root (CAP_NET_ADMIN)"
        : !File.Exists("/dev/net/tun") ? "/dev/net/tun is absent (no tun module)"
        : IpTool is null ? "ip (iproute2) is not installed"
        : null;

    /// <summary>Creates a namespace with a fresh name whose loopback is up.</summary>
    public static NetworkNamespace Create(string prefix = "avt")
    {
        var ns = new NetworkNamespace($"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)]);
        Ip("netns", "add", ns.Name);
        try { ns.Exec(IpTool!, "link", "set", "lo", "up"); }
        catch
        {
            ns.Dispose();
            throw;
        }
        return ns;
    }

    /// <summary>Moves tap <paramref name="tap"/> (in the test's namespace) into this one with address <paramref name="cidr"/> and brings it up.</summary>
    public void Adopt(string tap, string cidr)
    {
        Ip("link", "set", tap, "netns", Name);
        Exec("/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; " +
                              $"echo 1 > /proc/sys/net/ipv6/conf/{tap}/disable_ipv6");
        Exec(IpTool!, "addr", "add", cidr, "dev", tap);
        Exec(IpTool!, "link", "set", tap, "up");
    }

    /// <summary>Runs <paramref name="args"/> inside the namespace and returns its output; throws if it fails.</summary>
    public string Exec(params string[] args) => Run(IpTool!, ["netns", "exec", Name, .. args]);

    /// <summary>Starts <paramref name="args"/> inside the namespace in the background (stopped on dispose).</summary>
    public Process Start(params string[] args)
    {
        var info = new ProcessStartInfo(IpTool!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["netns", "exec", Name, .. args]) info.ArgumentList.Add(a);
        var p = Process.Start(info)!;
        _started.Add(p);
        return p;
    }

    private static string Ip(params string[] args) => Run(IpTool!, args);

    private static string Run(string tool, string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}{stdout.Result}");
        return stdout.Result;
    }

    /// <summary>Stops the started processes and deletes the namespace.</summary>
    public void Dispose()
    {
        foreach (var p in _started)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); p.WaitForExit(); }
            catch (InvalidOperationException) { }
            p.Dispose();
        }
        try { Ip("netns", "del", Name); }
        catch (InvalidOperationException) { } // already gone
    }
}

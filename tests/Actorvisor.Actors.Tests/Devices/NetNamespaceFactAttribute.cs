using Actorvisor.Hardware.Native;

namespace Actorvisor.Actors.Tests.Devices;

/// <summary>A fact that needs a tap in a network namespace it creates (root, /dev/net/tun, ip): skipped with the reason otherwise.</summary>
public sealed class NetNamespaceFactAttribute : FactAttribute
{
    public NetNamespaceFactAttribute()
    {
        if (NetworkNamespace.Unavailable is { } reason) Skip = reason;
    }
}

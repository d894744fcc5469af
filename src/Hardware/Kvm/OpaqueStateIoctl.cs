using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// The get/set ioctls whose kernel struct the runtime keeps as opaque bytes of a known size (XSAVE, vCPU events,
/// irqchip, PIT2, clock, ...): one buffer in, one buffer out, the size checked before the kernel sees it. Shared by
/// <see cref="VcpuFd"/> and <see cref="VmFd"/>.
/// </summary>
internal static unsafe class OpaqueStateIoctl
{
    /// <summary>Runs the GET ioctl <paramref name="request"/> into a fresh buffer of <paramref name="size"/> bytes.</summary>
    public static byte[] Get(FileDescriptor fd, ulong request, int size, string name)
    {
        var buffer = new byte[size];
        fixed (byte* p = buffer) Sys.Ioctl(fd, request, p, name);
        return buffer;
    }

    /// <summary>Runs the SET ioctl <paramref name="request"/> with <paramref name="data"/>, which must be exactly <paramref name="size"/> bytes.</summary>
    /// <exception cref="ArgumentException">the data is not <paramref name="size"/> bytes.</exception>
    public static void Set(FileDescriptor fd, ulong request, ReadOnlySpan<byte> data, int size, string name)
    {
        if (data.Length != size) throw new ArgumentException($"{name} takes {size} bytes, got {data.Length}", nameof(data));
        var copy = data.ToArray();
        fixed (byte* p = copy) Sys.Ioctl(fd, request, p, name);
    }
}

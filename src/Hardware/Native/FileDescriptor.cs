using System.Runtime.InteropServices;

namespace Actorvisor.Hardware.Native;

/// <summary>Owns one Linux file descriptor and closes it exactly once.</summary>
public sealed class FileDescriptor : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public FileDescriptor(int fd, string what) : base(new IntPtr(-1), ownsHandle: true)
    {
        SetHandle(new IntPtr(fd));
        What = what;
    }

    /// <summary>What this descriptor refers to ("/dev/kvm", "kvm-vm", "userfaultfd"), for error messages.</summary>
    public string What { get; }

    /// <inheritdoc />
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor number; valid only while this handle is alive.</summary>
    public int Fd => IsClosed ? throw new ObjectDisposedException(What) : (int)handle.ToInt64();

    /// <inheritdoc />
    protected override bool ReleaseHandle() => Tmds.Linux.LibC.close((int)handle.ToInt64()) == 0;

    /// <inheritdoc />
    public override string ToString() => $"{What} (fd {(IsClosed ? "closed" : handle.ToInt64().ToString())})";
}

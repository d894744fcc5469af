using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Vfio;

/// <summary>
/// A request to a KVM-VFIO device was refused. The same exception comes from KVM (with the kernel's
/// <see cref="SyscallException"/> as the inner exception) and from the software accelerator's device, so callers
/// handle both alike.
/// </summary>
public sealed class KvmVfioException : IOException
{
    /// <summary>Creates the exception for <paramref name="operation"/> on <paramref name="file"/>.</summary>
    public KvmVfioException(string operation, string file, KvmVfioFailure failure, int errno, string detail, Exception? inner = null)
        : base($"{operation} {file}: {Errnos.Name(errno)}: {detail}", inner)
    {
        Operation = operation;
        File = file;
        Failure = failure;
        Errno = errno;
        Detail = detail;
    }

    /// <summary>What was asked, e.g. "KVM_DEV_VFIO_FILE_ADD".</summary>
    public string Operation { get; }

    /// <summary>The file the request was about (its path or descriptor name).</summary>
    public string File { get; }

    /// <summary>Why it was refused.</summary>
    public KvmVfioFailure Failure { get; }

    /// <summary>The errno (the kernel's on KVM; the one vfio.c would return on the software accelerator).</summary>
    public int Errno { get; }

    /// <summary>The symbolic errno.</summary>
    public string ErrnoName => Errnos.Name(Errno);

    /// <summary>The explanation without the operation and file.</summary>
    public string Detail { get; }
}

using System.Runtime.InteropServices;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// A struct kvm_cpuid2 with its flexible array of <see cref="KvmCpuidEntry2"/> laid out as the kernel
/// expects it: the 8-byte header, then the entries. Used for KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2.
/// </summary>
internal sealed unsafe class KvmCpuidBuffer
{
    private readonly byte[] _bytes;

    /// <summary>An empty buffer with room for <paramref name="capacity"/> entries (nent = capacity).</summary>
    public KvmCpuidBuffer(int capacity)
    {
        _bytes = new byte[sizeof(KvmCpuid2) + capacity * sizeof(KvmCpuidEntry2)];
        Header.Nent = (uint)capacity;
    }

    /// <summary>A buffer holding <paramref name="entries"/>.</summary>
    public KvmCpuidBuffer(ReadOnlySpan<KvmCpuidEntry2> entries) : this(entries.Length) =>
        entries.CopyTo(EntrySpan(entries.Length));

    private ref KvmCpuid2 Header => ref MemoryMarshal.AsRef<KvmCpuid2>(_bytes.AsSpan(0, sizeof(KvmCpuid2)));

    private Span<KvmCpuidEntry2> EntrySpan(int count) =>
        MemoryMarshal.Cast<byte, KvmCpuidEntry2>(_bytes.AsSpan(sizeof(KvmCpuid2)))[..count];

    /// <summary>A buffer for <paramref name="capacity"/> entries whose every entry byte is 0xff, a value no CPUID entry the kernel writes has.</summary>
    public static KvmCpuidBuffer WithSentinel(int capacity)
    {
        var buffer = new KvmCpuidBuffer(capacity);
        buffer._bytes.AsSpan(sizeof(KvmCpuid2)).Fill(0xff);
        return buffer;
    }

    /// <summary>The entries before the first one still all 0xff (see <see cref="WithSentinel"/>).</summary>
    public KvmCpuidEntry2[] EntriesBeforeSentinel()
    {
        var all = EntrySpan(Count);
        int n = 0;
        while (n < all.Length && !(all[n].Function == uint.MaxValue && all[n].Index == uint.MaxValue && all[n].Flags == uint.MaxValue
                                   && all[n].Eax == uint.MaxValue && all[n].Padding0 == uint.MaxValue))
            n++;
        return all[..n].ToArray();
    }

    /// <summary>The header's nent: the capacity before a call, the kernel's count after one that updates it.</summary>
    public int Count => (int)Header.Nent;

    /// <summary>The entries the kernel filled in (nent after the call).</summary>
    public KvmCpuidEntry2[] Entries() => EntrySpan((int)Header.Nent).ToArray();

    /// <summary>
    /// Passes the buffer to <paramref name="request"/> and returns the raw result. Safe: the array is
    /// pinned for the call and sized for the nent it declares, so the kernel stays inside it.
    /// </summary>
    public int Ioctl(FileDescriptor fd, ulong request, out int errno)
    {
        fixed (byte* p = _bytes) return Sys.TryIoctl(fd, request, p, out errno);
    }
}

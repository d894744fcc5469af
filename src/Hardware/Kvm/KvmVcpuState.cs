using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// The saved state of one KVM vCPU, as a versioned state blob: tag "KVMV", <see cref="Version"/>, a header with the
/// size of every kernel struct it holds (a blob from a build or kernel with other sizes is refused, not misread),
/// then regs, sregs, FPU, XSAVE, XCRs, debug registers, the LAPIC (with the in-kernel irqchip only), the MSRs (index and value), vCPU events and MP state,
/// and a SHA-256 of all of it as the last 32 bytes (a corrupted blob is refused before any ioctl).
/// Restore follows Firecracker's documented order: regs and sregs first, MSRs after sregs (some depend on EFER and
/// CR4), LAPIC before events, and vCPU events and MP state last, so that nothing set later overwrites what they
/// carry (a pending exception, an interrupt shadow, a halted vCPU).
/// </summary>
public static class KvmVcpuState
{
    /// <summary>The state blob tag.</summary>
    public const string Tag = "KVMV";
    /// <summary>The layout version this build writes and reads.</summary>
    public const uint Version = 1;
    private const int DigestSize = 32;

    /// <summary>The struct sizes the header carries, in order, with their names for messages.</summary>
    private static readonly (string Name, int Size)[] Parts =
    [
        ("kvm_regs", Marshal.SizeOf<KvmRegs>()),
        ("kvm_sregs", Marshal.SizeOf<KvmSregs>()),
        ("kvm_fpu", Marshal.SizeOf<KvmFpu>()),
        ("kvm_xsave", KvmStateSizes.Xsave),
        ("kvm_xcrs", KvmStateSizes.Xcrs),
        ("kvm_debugregs", KvmStateSizes.DebugRegs),
        ("kvm_lapic_state", KvmLapicState.Size),
        ("kvm_vcpu_events", KvmStateSizes.VcpuEvents),
    ];

    /// <summary>
    /// Reads every piece of <paramref name="vcpu"/>'s state; <paramref name="msrIndices"/> are the MSRs to save, and the
    /// LAPIC is saved only when the VM has the in-kernel irqchip (<paramref name="inKernelLapic"/>).
    /// </summary>
    public static byte[] Save(VcpuFd vcpu, ReadOnlySpan<uint> msrIndices, bool inKernelLapic)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var w = new StateBlobWriter(Tag, Version);
        foreach (var (_, size) in Parts) w.U32((uint)size);
        w.U32((uint)msrIndices.Length);
        w.Bool(inKernelLapic);

        var regs = vcpu.GetRegs();
        var sregs = vcpu.GetSregs();
        var fpu = vcpu.GetFpu();
        w.Bytes(MemoryMarshal.AsBytes(new ReadOnlySpan<KvmRegs>(in regs)));
        w.Bytes(MemoryMarshal.AsBytes(new ReadOnlySpan<KvmSregs>(in sregs)));
        w.Bytes(MemoryMarshal.AsBytes(new ReadOnlySpan<KvmFpu>(in fpu)));
        w.Bytes(vcpu.GetXsave());
        w.Bytes(vcpu.GetXcrs());
        w.Bytes(vcpu.GetDebugRegs());
        if (inKernelLapic)
        {
            var lapic = vcpu.GetLapic();
            w.Bytes(MemoryMarshal.AsBytes(new ReadOnlySpan<KvmLapicState>(in lapic)));
        }
        var msrs = new KvmMsrEntry[msrIndices.Length];
        for (int i = 0; i < msrs.Length; i++) msrs[i].Index = msrIndices[i];
        int read = vcpu.GetMsrEntries(msrs);
        if (read != msrs.Length)
            throw new InvalidOperationException($"vCPU {vcpu.Id}: KVM_GET_MSRS read {read} of {msrs.Length} MSRs; MSR 0x{msrs[read].Index:x} is not readable");
        foreach (var m in msrs)
        {
            w.U32(m.Index);
            w.U64(m.Data);
        }
        w.Bytes(vcpu.GetVcpuEvents());
        w.U32(vcpu.GetMpState());

        var body = w.ToArray();
        var blob = new byte[body.Length + DigestSize];
        body.CopyTo(blob, 0);
        SHA256.HashData(body, blob.AsSpan(body.Length));
        return blob;
    }

    /// <summary>The MSR indices a blob <see cref="Save"/> wrote holds, in order (checks the blob like <see cref="Restore"/>).</summary>
    public static uint[] MsrIndices(ReadOnlySpan<byte> state, string what)
    {
        var r = Open(state, what, out uint count, out bool lapic);
        for (int i = 0; i < (lapic ? 7 : 6); i++) r.Bytes();
        var indices = new uint[count];
        for (int i = 0; i < indices.Length; i++)
        {
            indices[i] = r.U32();
            r.U64();
        }
        return indices;
    }

    /// <summary>
    /// Loads a blob <see cref="Save"/> produced into <paramref name="vcpu"/> (a fresh vCPU of a VM with the same memory
    /// contents, with the in-kernel irqchip exactly when the saved one had it: <paramref name="inKernelLapic"/>).
    /// </summary>
    /// <exception cref="FormatException">another tag or version, other struct sizes, a truncated or corrupted blob.</exception>
    /// <exception cref="InvalidOperationException">the blob has a LAPIC and the vCPU not, or the other way round.</exception>
    public static void Restore(VcpuFd vcpu, ReadOnlySpan<byte> state, bool inKernelLapic)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        string what = $"KVM vCPU {vcpu.Id} state";
        var r = Open(state, what, out uint msrCount, out bool savedLapic);
        if (savedLapic != inKernelLapic)
            throw new InvalidOperationException($"{what}: the saved vCPU {(savedLapic ? "had" : "had no")} in-kernel LAPIC, this one {(inKernelLapic ? "has one" : "has none")}; create the VM the same way (the PC chipset) before restoring");
        var regs = MemoryMarshal.Read<KvmRegs>(Part(ref r, 0, what));
        var sregs = MemoryMarshal.Read<KvmSregs>(Part(ref r, 1, what));
        var fpu = MemoryMarshal.Read<KvmFpu>(Part(ref r, 2, what));
        var xsave = Part(ref r, 3, what);
        var xcrs = Part(ref r, 4, what);
        var debugRegs = Part(ref r, 5, what);
        KvmLapicState? lapic = savedLapic ? MemoryMarshal.Read<KvmLapicState>(Part(ref r, 6, what)) : null;
        var msrs = new KvmMsrEntry[msrCount];
        for (int i = 0; i < msrs.Length; i++)
        {
            msrs[i].Index = r.U32();
            msrs[i].Data = r.U64();
        }
        var events = Part(ref r, 7, what);
        uint mpState = r.U32();
        r.End();

        vcpu.SetRegs(regs);
        vcpu.SetSregs(sregs);
        vcpu.SetFpu(fpu);
        vcpu.SetXsave(xsave);
        vcpu.SetXcrs(xcrs);
        vcpu.SetDebugRegs(debugRegs);
        if (lapic is { } l) vcpu.SetLapic(l);
        SetMsrs(vcpu, msrs, what);
        vcpu.SetVcpuEvents(events);
        vcpu.SetMpState(mpState);
    }

    /// <summary>
    /// KVM_SET_MSRS of all <paramref name="msrs"/>. An MSR KVM refuses that the fresh vCPU already holds at the saved
    /// value is passed over (without an in-kernel LAPIC, KVM refuses every write to MSR_KVM_ASYNC_PF_INT, even of its
    /// value 0); any other refusal is an error naming the MSR.
    /// </summary>
    private static void SetMsrs(VcpuFd vcpu, KvmMsrEntry[] msrs, string what)
    {
        var rest = msrs.AsSpan();
        while (rest.Length > 0)
        {
            int set = vcpu.SetMsrs(rest);
            if (set == rest.Length) return;
            var refused = rest[set];
            Span<KvmMsrEntry> current = [new KvmMsrEntry { Index = refused.Index }];
            if (vcpu.GetMsrEntries(current) != 1 || current[0].Data != refused.Data)
                throw new InvalidOperationException($"{what}: KVM_SET_MSRS refused MSR 0x{refused.Index:x} = 0x{refused.Data:x} (after setting {msrs.Length - rest.Length + set} of {msrs.Length})");
            rest = rest[(set + 1)..];
        }
    }

    private static ReadOnlySpan<byte> Part(ref StateBlobReader r, int index, string what)
    {
        var bytes = r.Bytes();
        var (name, size) = Parts[index];
        if (bytes.Length != size) throw new FormatException($"{what}: {name} holds {bytes.Length} bytes, the header says {size}");
        return bytes;
    }

    /// <summary>
    /// The MSRs of <paramref name="indexList"/> (KVM_GET_MSR_INDEX_LIST) that KVM_GET_MSRS reads on
    /// <paramref name="vcpu"/>: the index list names MSRs some CPUs or configurations lack, and the kernel stops at
    /// the first one it refuses, so each refused MSR is dropped and the read retried from there.
    /// </summary>
    public static uint[] ReadableMsrs(VcpuFd vcpu, ReadOnlySpan<uint> indexList)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        var kept = new List<uint>(indexList.Length);
        var rest = indexList.ToArray().AsSpan();
        while (rest.Length > 0)
        {
            var entries = new KvmMsrEntry[rest.Length];
            for (int i = 0; i < entries.Length; i++) entries[i].Index = rest[i];
            int read = vcpu.GetMsrEntries(entries);
            kept.AddRange(rest[..read]);
            rest = rest[Math.Min(read + 1, rest.Length)..];
        }
        return [.. kept];
    }

    /// <summary>Checks the digest, tag, version and every struct size; leaves the reader at the first struct.</summary>
    private static StateBlobReader Open(ReadOnlySpan<byte> state, string what, out uint msrCount, out bool lapic)
    {
        if (state.Length < DigestSize + 8) throw new FormatException($"{what}: {state.Length} bytes is too short for a KVM vCPU state");
        var body = state[..^DigestSize];
        Span<byte> digest = stackalloc byte[DigestSize];
        SHA256.HashData(body, digest);
        var r = new StateBlobReader(body, Tag, Version, what);
        if (!digest.SequenceEqual(state[^DigestSize..]))
            throw new FormatException($"{what}: the SHA-256 at the end does not match the {body.Length} bytes before it (corrupted)");
        foreach (var (name, size) in Parts)
        {
            uint stored = r.U32();
            if (stored != size) throw new FormatException($"{what}: {name} is {stored} bytes in the state, this build uses {size} (another kernel ABI or layout)");
        }
        msrCount = r.U32();
        if (msrCount > 4096) throw new FormatException($"{what}: {msrCount} MSRs is more than any KVM saves (corrupted)");
        lapic = r.Bool();
        return r;
    }
}

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// Owns how the software accelerator traps RDMSR and WRMSR, which Unicorn 2.0.1 cannot hook (UC_ERR_HOOK):
/// the vCPU already runs in QEMU's SVM guest mode (HF_GUEST, for the HLT intercept), so it also sets the MSR
/// intercept. QEMU's cpu_svm_check_intercept_param then reads the VMCB's msrpm_base_pa and one byte of the MSR
/// permission map from guest-physical memory at <c>vm_vmcb</c>; the vCPU points <c>vm_vmcb</c> at
/// <see cref="Base"/>, a window at the top of the MMIO space that no memslot may cover, and answers those
/// reads itself (<see cref="Read"/>): a VMCB whose map is at <see cref="Base"/> + 0x1000 and a map whose bits
/// intercept every MSR except those Unicorn's CPU model implements (<see cref="SoftMsrTable.IsLeftToCpuModel"/>).
/// An intercepted RDMSR/WRMSR raises EXCP_VMEXIT + SVM_EXIT_MSR before it executes, with RIP on it, which
/// UC_HOOK_INTR hands to the vCPU. Costs nothing for guests that do not touch MSRs.
/// </summary>
internal static class SoftMsrIntercept
{
    /// <summary>Guest-physical base of the window (VMCB page, then the 8 KiB permission map).</summary>
    public const ulong Base = SoftCpuEngine.MmioTop - Size;

    /// <summary>Bytes of the window: one VMCB page and the two-page MSR permission map, rounded up.</summary>
    public const ulong Size = 0x4000;

    /// <summary>env->intercept bit of SVM_EXIT_MSR (0x7c - SVM_EXIT_INTR 0x60).</summary>
    public const ulong InterceptMsr = 1UL << (0x7C - 0x60);

    /// <summary>The UC_HOOK_INTR number of the MSR intercept: EXCP_VMEXIT (0x100) + SVM_EXIT_MSR (0x7c). Error code 0 = RDMSR, 1 = WRMSR.</summary>
    public const uint Vector = 0x100 + 0x7C;

    private const int VmcbMsrpmBasePa = 0x48;
    private const ulong MapOffset = 0x1000;

    private static readonly byte[] Window = Build();

    /// <summary>True when <paramref name="gpa"/> lies in the window.</summary>
    public static bool Contains(ulong gpa) => gpa >= Base && gpa - Base < Size;

    /// <summary>The little-endian value of <paramref name="size"/> bytes at <paramref name="gpa"/> in the window.</summary>
    public static ulong Read(ulong gpa, int size)
    {
        ulong value = 0;
        int at = (int)(gpa - Base);
        for (int i = Math.Min(size, 8) - 1; i >= 0; i--)
            value = (value << 8) | (at + i < Window.Length ? Window[at + i] : 0UL);
        return value;
    }

    private static byte[] Build()
    {
        var w = new byte[Size];
        BitConverter.TryWriteBytes(w.AsSpan(VmcbMsrpmBasePa), Base + MapOffset);
        // AMD APM vol. 2, 15.11: two bits per MSR (read, write) in three 2 KiB ranges.
        (uint first, int bitBase)[] ranges = [(0, 0), (0xC000_0000, 0x2000 * 2), (0xC001_0000, 0x4000 * 2)];
        foreach (var (first, bitBase) in ranges)
        {
            for (uint i = 0; i < 0x2000; i++)
            {
                if (SoftMsrIntercept.IsLeftToModel(first + i)) continue;
                int bit = bitBase + (int)i * 2;
                w[(int)MapOffset + bit / 8] |= (byte)(3 << (bit % 8));
            }
        }
        return w;
    }

    private static bool IsLeftToModel(uint index) => SoftMsrTable.IsLeftToCpuModel(index);
}

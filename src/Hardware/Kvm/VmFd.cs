using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Kvm;

/// <summary>A KVM VM file descriptor: VM ioctls (api.rst section 4, "vm ioctl").</summary>
public sealed unsafe class VmFd : IDisposable
{
    /// <summary>KVM_MEM_LOG_DIRTY_PAGES.</summary>
    public const uint MemLogDirtyPages = 1;
    /// <summary>KVM_MEM_READONLY.</summary>
    public const uint MemReadonly = 2;

    private readonly FileDescriptor _fd;

    internal VmFd(FileDescriptor fd, int vcpuMmapSize)
    {
        _fd = fd;
        VcpuMmapSize = vcpuMmapSize;
    }

    /// <summary>The owned descriptor.</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>Bytes each vCPU maps for its kvm_run (KVM_GET_VCPU_MMAP_SIZE).</summary>
    public int VcpuMmapSize { get; }

    /// <summary>KVM_CHECK_EXTENSION on the VM fd (KVM_CAP_CHECK_EXTENSION_VM): the answer for this VM.</summary>
    public int CheckExtension(KvmCapability capability) =>
        Sys.Ioctl(_fd, KvmIoctls.CheckExtension, (ulong)capability, $"KVM_CHECK_EXTENSION({capability})");

    /// <summary>
    /// KVM_SET_USER_MEMORY_REGION: creates, modifies or (with <c>MemorySize</c> 0) deletes a memslot.
    /// The kernel refuses overlaps (EEXIST), misalignment and changes of size or address of a live slot (EINVAL).
    /// </summary>
    public void SetUserMemoryRegion(in KvmUserspaceMemoryRegion region)
    {
        var r = region;
        Sys.Ioctl(_fd, KvmIoctls.SetUserMemoryRegion, &r,
            $"KVM_SET_USER_MEMORY_REGION(slot {r.Slot}, gpa 0x{r.GuestPhysAddr:x}, size 0x{r.MemorySize:x}, flags {r.Flags})");
    }

    /// <summary>KVM_SET_USER_MEMORY_REGION for <paramref name="slot"/> mapping <paramref name="size"/> bytes at <paramref name="guestPhysAddr"/> to <paramref name="hostAddress"/>.</summary>
    public void SetUserMemoryRegion(uint slot, ulong guestPhysAddr, ulong size, nint hostAddress, uint flags = 0) =>
        SetUserMemoryRegion(new KvmUserspaceMemoryRegion
        {
            Slot = slot, Flags = flags, GuestPhysAddr = guestPhysAddr, MemorySize = size, UserspaceAddr = (ulong)hostAddress,
        });

    /// <summary>Deletes memslot <paramref name="slot"/>: KVM_SET_USER_MEMORY_REGION with size 0 (api.rst 4.35).</summary>
    public void DeleteUserMemoryRegion(uint slot) => SetUserMemoryRegion(new KvmUserspaceMemoryRegion { Slot = slot });

    /// <summary>KVM_CREATE_VCPU: creates vCPU <paramref name="id"/> and maps its kvm_run.</summary>
    public VcpuFd CreateVcpu(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        int vcpuFd = Sys.Ioctl(_fd, KvmIoctls.CreateVcpu, (ulong)id, $"KVM_CREATE_VCPU({id})");
        var fd = new FileDescriptor(vcpuFd, $"kvm-vcpu{id}");
        try { return new VcpuFd(fd, id, VcpuMmapSize); }
        catch { fd.Dispose(); throw; }
    }

    /// <summary>
    /// KVM_GET_DIRTY_LOG: the pages of <paramref name="slot"/> written since the last call, one bit per page
    /// in 64-bit words (bit n of word w is page w*64+n), and re-arms write tracking (api.rst 4.8).
    /// The slot must have been created with KVM_MEM_LOG_DIRTY_PAGES.
    /// </summary>
    public ulong[] GetDirtyLog(uint slot, ulong memorySize)
    {
        ulong pages = memorySize >> PageSize.Shift;
        var bitmap = new ulong[(pages + 63) / 64];
        GetDirtyLog(slot, bitmap);
        return bitmap;
    }

    /// <summary>KVM_GET_DIRTY_LOG into <paramref name="bitmap"/>, which must hold one bit per page of the slot.</summary>
    public void GetDirtyLog(uint slot, Span<ulong> bitmap)
    {
        // Safe: the span is pinned for the call and the caller sized it for every page of the slot,
        // which is all the kernel writes (it copies ALIGN(npages, 64) / 8 bytes).
        fixed (ulong* p = bitmap)
        {
            var log = new KvmDirtyLog { Slot = slot, DirtyBitmap = (ulong)p };
            Sys.Ioctl(_fd, KvmIoctls.GetDirtyLog, &log, $"KVM_GET_DIRTY_LOG(slot {slot})");
        }
    }

    /// <summary>KVM_SET_TSS_ADDR: three pages of guest-physical space KVM may use for the real-mode TSS on Intel; harmless on AMD.</summary>
    public void SetTssAddress(ulong address) =>
        Sys.Ioctl(_fd, KvmIoctls.SetTssAddr, address, $"KVM_SET_TSS_ADDR(0x{address:x})");

    /// <summary>KVM_SET_IDENTITY_MAP_ADDR: the page for the real-mode identity page table on Intel; must precede vCPU creation.</summary>
    public void SetIdentityMapAddress(ulong address)
    {
        ulong a = address;
        Sys.Ioctl(_fd, KvmIoctls.SetIdentityMapAddr, &a, $"KVM_SET_IDENTITY_MAP_ADDR(0x{address:x})");
    }

    /// <summary>
    /// KVM_CREATE_IRQCHIP: the in-kernel PIC pair, IOAPIC and a local APIC per vCPU (api.rst 4.24). Must precede vCPU
    /// creation; vCPUs other than 0 then start in KVM_MP_STATE_UNINITIALIZED, waiting for INIT-SIPI.
    /// </summary>
    public void CreateIrqchip() => Sys.Ioctl(_fd, KvmIoctls.CreateIrqchip, 0, "KVM_CREATE_IRQCHIP");

    /// <summary>KVM_IRQ_LINE: sets the level of GSI <paramref name="irq"/> on the in-kernel irqchip (an edge is 0 -> 1).</summary>
    public void SetIrqLine(uint irq, bool level)
    {
        var arg = new KvmIrqLevel { Irq = irq, Level = level ? 1u : 0u };
        Sys.Ioctl(_fd, KvmIoctls.IrqLine, &arg, $"KVM_IRQ_LINE({irq}, {arg.Level})");
    }

    /// <summary>KVM_CREATE_PIT2: the in-kernel i8254 PIT on ports 0x40-0x43 (and 0x61 with <see cref="KvmPitConfig.SpeakerDummy"/>); needs the irqchip.</summary>
    public void CreatePit2(uint flags = KvmPitConfig.SpeakerDummy)
    {
        var config = new KvmPitConfig { Flags = flags };
        Sys.Ioctl(_fd, KvmIoctls.CreatePit2, &config, $"KVM_CREATE_PIT2(flags {flags})");
    }

    /// <summary>
    /// KVM_REINJECT_CONTROL: whether the in-kernel PIT delivers the ticks a guest did not acknowledge in time later,
    /// one after another (true, KVM's default), or drops them (false: QEMU's lost_tick_policy=discard).
    /// </summary>
    public void SetPitReinject(bool reinject)
    {
        // struct kvm_reinject_control: __u8 pit_reinject; __u8 reserved[31].
        var control = stackalloc byte[32];
        new Span<byte>(control, 32).Clear();
        control[0] = reinject ? (byte)1 : (byte)0;
        Sys.Ioctl(_fd, KvmIoctls.ReinjectControl, control, $"KVM_REINJECT_CONTROL({reinject})");
    }

    /// <summary>KVM_GET_IRQCHIP for chip <paramref name="chipId"/> (<see cref="KvmStateSizes.IrqchipPicMaster"/>, slave, IOAPIC): the whole struct kvm_irqchip.</summary>
    public byte[] GetIrqchip(uint chipId)
    {
        var buffer = new byte[KvmStateSizes.Irqchip];
        BitConverter.TryWriteBytes(buffer, chipId);
        fixed (byte* p = buffer) Sys.Ioctl(_fd, KvmIoctls.GetIrqchip, p, $"KVM_GET_IRQCHIP({chipId})");
        return buffer;
    }

    /// <summary>KVM_SET_IRQCHIP: a struct kvm_irqchip as <see cref="GetIrqchip"/> returned it (its chip_id says which chip).</summary>
    public void SetIrqchip(ReadOnlySpan<byte> irqchip) => SetOpaque(KvmIoctls.SetIrqchip, irqchip, KvmStateSizes.Irqchip, "KVM_SET_IRQCHIP");

    /// <summary>KVM_GET_PIT2: the in-kernel PIT's three channels and flags.</summary>
    public byte[] GetPit2() => GetOpaque(KvmIoctls.GetPit2, KvmStateSizes.PitState2, "KVM_GET_PIT2");

    /// <summary>KVM_SET_PIT2 (reloads each channel's count, restarting its timer).</summary>
    public void SetPit2(ReadOnlySpan<byte> pit) => SetOpaque(KvmIoctls.SetPit2, pit, KvmStateSizes.PitState2, "KVM_SET_PIT2");

    /// <summary>KVM_GET_CLOCK: the kvmclock value the guest sees (struct kvm_clock_data).</summary>
    public byte[] GetClock() => GetOpaque(KvmIoctls.GetClock, KvmStateSizes.ClockData, "KVM_GET_CLOCK");

    /// <summary>KVM_SET_CLOCK.</summary>
    public void SetClock(ReadOnlySpan<byte> clock) => SetOpaque(KvmIoctls.SetClock, clock, KvmStateSizes.ClockData, "KVM_SET_CLOCK");

    private byte[] GetOpaque(ulong request, int size, string name) => OpaqueStateIoctl.Get(_fd, request, size, name);

    private void SetOpaque(ulong request, ReadOnlySpan<byte> data, int size, string name) => OpaqueStateIoctl.Set(_fd, request, data, size, name);

    /// <summary>KVM_CREATE_DEVICE: creates an in-kernel device of <paramref name="type"/> (api.rst 4.80).</summary>
    public DeviceFd CreateDevice(KvmDeviceType type)
    {
        var create = new KvmCreateDevice { Type = (uint)type };
        Sys.Ioctl(_fd, KvmIoctls.CreateDevice, &create, $"KVM_CREATE_DEVICE({type})");
        return new DeviceFd(new FileDescriptor(create.Fd, $"kvm-device:{type}"), type);
    }

    /// <summary>KVM_CREATE_DEVICE with KVM_CREATE_DEVICE_TEST: whether this VM can have a device of <paramref name="type"/>.</summary>
    public bool SupportsDevice(KvmDeviceType type)
    {
        var create = new KvmCreateDevice { Type = (uint)type, Flags = KvmCreateDevice.FlagTest };
        int r = Sys.TryIoctl(_fd, KvmIoctls.CreateDevice, &create, out int err);
        if (r >= 0) return true;
        if (err == Tmds.Linux.LibC.ENODEV || err == Errnos.ENXIO) return false;
        throw new SyscallException($"ioctl(KVM_CREATE_DEVICE({type}, TEST))", err, _fd.What);
    }

    /// <summary>
    /// KVM_IOEVENTFD (api.rst 4.59): from now on a guest MMIO write of <paramref name="length"/> bytes at
    /// <paramref name="address"/> (of the value <paramref name="datamatch"/>, if given) signals <paramref name="eventFd"/>
    /// inside the kernel and resumes the guest: no exit reaches the vCPU thread.
    /// </summary>
    public void AssignIoEventFd(FileDescriptor eventFd, ulong address, uint length, ulong? datamatch) =>
        IoEventFd(eventFd, address, length, datamatch, 0, "KVM_IOEVENTFD");

    /// <summary>KVM_IOEVENTFD with KVM_IOEVENTFD_FLAG_DEASSIGN: undoes <see cref="AssignIoEventFd"/> (same arguments).</summary>
    public void DeassignIoEventFd(FileDescriptor eventFd, ulong address, uint length, ulong? datamatch) =>
        IoEventFd(eventFd, address, length, datamatch, KvmIoeventfd.FlagDeassign, "KVM_IOEVENTFD(deassign)");

    private void IoEventFd(FileDescriptor eventFd, ulong address, uint length, ulong? datamatch, uint flags, string name)
    {
        var arg = new KvmIoeventfd
        {
            Addr = address, Len = length, Fd = eventFd.Fd, Datamatch = datamatch ?? 0,
            Flags = flags | (datamatch is null ? 0 : KvmIoeventfd.FlagDatamatch),
        };
        Sys.Ioctl(_fd, KvmIoctls.IoEventFd, &arg, $"{name}(0x{address:x}, {length} bytes{(datamatch is { } d ? $", data {d}" : "")})");
    }

    /// <summary>KVM_IRQFD (api.rst 4.75): a write to <paramref name="eventFd"/> injects an edge on GSI <paramref name="gsi"/>; needs the irqchip.</summary>
    public void AssignIrqFd(FileDescriptor eventFd, uint gsi)
    {
        var arg = new KvmIrqfd { Fd = (uint)eventFd.Fd, Gsi = gsi };
        Sys.Ioctl(_fd, KvmIoctls.IrqFd, &arg, $"KVM_IRQFD(gsi {gsi})");
    }

    /// <summary>KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN: undoes <see cref="AssignIrqFd"/>.</summary>
    public void DeassignIrqFd(FileDescriptor eventFd, uint gsi)
    {
        var arg = new KvmIrqfd { Fd = (uint)eventFd.Fd, Gsi = gsi, Flags = KvmIrqfd.FlagDeassign };
        Sys.Ioctl(_fd, KvmIoctls.IrqFd, &arg, $"KVM_IRQFD(gsi {gsi}, deassign)");
    }

    /// <summary>Closes the VM fd; the kernel destroys the VM once its vCPU and device fds are closed too.</summary>
    public void Dispose() => _fd.Dispose();
}

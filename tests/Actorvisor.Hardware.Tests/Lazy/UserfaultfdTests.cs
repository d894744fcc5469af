using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Lazy.Uapi;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>The userfaultfd wrapper against the real kernel, without the fault reader.</summary>
public class UserfaultfdTests
{
    private const ulong Page = PageSize.Bytes;

    [Fact]
    public void Handshake_reports_the_features_and_ioctls()
    {
        using var uffd = Userfaultfd.Open();
        Assert.NotEqual(0UL, uffd.SupportedFeatures & UffdIoctl.FeatureThreadId);
        Assert.True(uffd.ReportsThreadId);
        ulong wanted = 1UL << UffdIoctl.RegisterBit | 1UL << UffdIoctl.UnregisterBit | 1UL << UffdIoctl.ApiBit;
        Assert.Equal(wanted, uffd.Ioctls & wanted);
        Assert.Equal("userfaultfd", uffd.Descriptor.What);
    }

    [Fact]
    public void Registered_anonymous_range_supports_copy_zeropage_and_wake()
    {
        using var mem = HostMemory.Allocate(4 * Page);
        using var uffd = Userfaultfd.Open();
        ulong ioctls = uffd.Register(mem.Address, mem.Size);
        foreach (int bit in new[] { UffdIoctl.CopyBit, UffdIoctl.ZeroPageBit, UffdIoctl.WakeBit })
            Assert.NotEqual(0UL, ioctls & (1UL << bit));
        uffd.Unregister(mem.Address, mem.Size);
    }

    [Fact]
    public void Second_copy_of_a_page_is_already_present_and_does_not_overwrite()
    {
        using var mem = HostMemory.Allocate(2 * Page);
        using var uffd = Userfaultfd.Open();
        uffd.Register(mem.Address, mem.Size);
        var first = Filled(0x11);
        var second = Filled(0x22);
        Assert.Equal(PageInstall.Installed, Copy(uffd, mem.Address, first));
        Assert.Equal(PageInstall.AlreadyPresent, Copy(uffd, mem.Address, second));
        Assert.Equal(PageInstall.AlreadyPresent, uffd.ZeroPage(mem.Address, Page));
        Assert.Equal(PageInstall.Installed, uffd.ZeroPage(mem.Address + (nint)Page, Page));
        // Both pages are present now, so reading them from managed code cannot fault.
        Assert.True(mem.Span(0, (int)Page).SequenceEqual(first));
        Assert.True(mem.Span(Page, (int)Page).ToArray().All(b => b == 0));
    }

    [Fact]
    public void Copy_into_an_unregistered_range_fails_naming_the_ioctl()
    {
        using var mem = HostMemory.Allocate(Page);
        using var uffd = Userfaultfd.Open();
        var e = Assert.Throws<SyscallException>(() => Copy(uffd, mem.Address, Filled(1)));
        Assert.Equal("ioctl(UFFDIO_COPY)", e.Call);
        Assert.Equal(Errnos.ENOENT, e.Errno);
        Assert.Contains($"dst 0x{(ulong)mem.Address:x}", e.Message);
    }

    [Fact]
    public void Misaligned_ranges_are_refused_naming_the_parameter()
    {
        using var uffd = Userfaultfd.Open();
        Assert.Equal("start", Assert.Throws<ArgumentException>(() => uffd.Register(0x1001, Page)).ParamName);
        Assert.Equal("length", Assert.Throws<ArgumentException>(() => uffd.Wake(0x1000, 0x800)).ParamName);
    }

    [Fact]
    public async Task A_fault_is_reported_with_address_thread_and_kind_and_the_copy_wakes_the_thread()
    {
        using var mem = HostMemory.Allocate(4 * Page);
        using var uffd = Userfaultfd.Open();
        uffd.Register(mem.Address, mem.Size);
        Span<UffdMsg> msgs = stackalloc UffdMsg[4];
        Assert.Equal(0, uffd.ReadMessages(msgs)); // nothing pending: non-blocking read answers 0

        int readerTid = 0, writerTid = 0;
        var got = new byte[Page];
        var reader = NativeTouch.OnThread("uffd-read-toucher", () => { readerTid = NativeTouch.ThreadId(); NativeTouch.Read(mem.Address + (nint)(2 * Page), got); });
        var msg = WaitForMessage(uffd);
        Assert.True(msg.IsPageFault);
        Assert.Equal((ulong)mem.Address + 2 * Page, msg.PageFaultAddress);
        Assert.Equal(0UL, msg.PageFaultFlags & UffdIoctl.PageFaultFlagWrite);
        Assert.False(reader.IsCompleted); // blocked in the fault until the page is installed
        var data = Filled(0x5a);
        Assert.Equal(PageInstall.Installed, Copy(uffd, mem.Address + (nint)(2 * Page), data));
        await reader.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(readerTid, (int)msg.PageFaultThreadId);
        Assert.Equal(data, got);

        var writer = NativeTouch.OnThread("uffd-write-toucher", () => { writerTid = NativeTouch.ThreadId(); NativeTouch.Write(mem.Address, [7]); });
        msg = WaitForMessage(uffd);
        Assert.Equal((ulong)mem.Address, msg.PageFaultAddress);
        Assert.Equal(UffdIoctl.PageFaultFlagWrite, msg.PageFaultFlags & UffdIoctl.PageFaultFlagWrite);
        Assert.Equal(PageInstall.Installed, uffd.ZeroPage(mem.Address, Page));
        await writer.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(writerTid, (int)msg.PageFaultThreadId);
        Assert.Equal(7, mem.Read<byte>(0));
    }

    [Fact]
    public async Task A_user_mode_only_descriptor_refuses_kernel_faults_which_is_why_guest_ram_does_not_use_it()
    {
        // KVM and the kernel's own copies fault in kernel mode. With UFFD_USER_MODE_ONLY such a fault is not
        // reported but fails: here write(2) from a missing page answers EFAULT instead of waiting for the page.
        using var mem = HostMemory.Allocate(Page);
        using var uffd = Userfaultfd.Open(userModeOnly: true);
        uffd.Register(mem.Address, mem.Size);
        using var target = Sys.MemfdCreate("user-mode-only");
        long written = 0;
        int err = 0;
        var toucher = NativeTouch.OnThread("kernel-toucher", () =>
        {
            written = LazyGuestMemoryTests.KernelRead(target, mem.Address, (int)Page);
            err = Sys.LastErrno;
        });
        var finished = await Task.WhenAny(toucher, Task.Delay(TimeSpan.FromSeconds(10)));
        if (finished != toucher) Copy(uffd, mem.Address, Filled(0)); // release it before failing
        Assert.Same(toucher, finished);
        Assert.Equal(-1, written);
        Assert.Equal(Errnos.EFAULT, err);
    }

    [Fact]
    public void Ioctls_after_dispose_are_refused_cleanly()
    {
        var uffd = Userfaultfd.Open();
        uffd.Dispose();
        Assert.Throws<ObjectDisposedException>(() => uffd.Wake(0x1000, Page));
    }

    /// <summary>Blocks in poll(2) until the userfaultfd has a message (10 s at most), then reads one.</summary>
    internal static unsafe UffdMsg WaitForMessage(Userfaultfd uffd)
    {
        var pfd = new Tmds.Linux.pollfd { fd = uffd.Descriptor.Fd, events = (short)POLLIN };
        Assert.Equal(1, poll(&pfd, 1, 10_000));
        Span<UffdMsg> one = stackalloc UffdMsg[1];
        Assert.Equal(1, uffd.ReadMessages(one));
        return one[0];
    }

    internal static unsafe PageInstall Copy(Userfaultfd uffd, nint dst, byte[] data)
    {
        fixed (byte* p = data) return uffd.Copy(dst, (nint)p, (ulong)data.Length);
    }

    internal static byte[] Filled(byte value)
    {
        var b = new byte[Page];
        b.AsSpan().Fill(value);
        return b;
    }
}

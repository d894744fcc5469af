using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Tests.Images;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Machines;

/// <summary>
/// Every library guest, and the machine's run/teardown behaviour, on a real accelerator. Subclasses supply
/// the accelerator (software, KVM) and may adjust accelerator-specific expectations.
/// </summary>
public abstract class MachineEndToEndTests : IDisposable
{
    private readonly Lazy<IAccelerator> _accelerator;
    private readonly List<Machine> _machines = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-e2e-").FullName;

    protected MachineEndToEndTests()
    {
        _accelerator = new Lazy<IAccelerator>(CreateAccelerator);
    }

    /// <summary>A fresh accelerator for this test class instance.</summary>
    protected abstract IAccelerator CreateAccelerator();

    /// <summary>How long a guest may run before a test fails it.</summary>
    protected virtual TimeSpan RunTimeout => TimeSpan.FromSeconds(60);

    /// <summary>True where virtio queue notifications bypass the vCPU thread (KVM's ioeventfd).</summary>
    protected virtual bool NotifiesThroughEventFds => false;

    /// <summary>Checks the exit of a vCPU that triple-faulted (KVM: KVM_EXIT_SHUTDOWN).</summary>
    protected virtual void AssertTripleFaultExit(VcpuExit? exit) => Assert.IsType<VcpuExit.Shutdown>(exit);

    public void Dispose()
    {
        foreach (var m in _machines) m.Dispose();
        if (_accelerator.IsValueCreated) _accelerator.Value.Dispose();
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected Machine Create(IBootableImage image, ulong memoryBytes = 32UL << 20, IConsoleSink? console = null, int? vcpus = null)
    {
        var m = Machine.Create(_accelerator.Value, new MachineSpec { Image = image, MemoryBytes = memoryBytes, VcpuCount = vcpus }, console);
        _machines.Add(m);
        return m;
    }

    protected MachineResult Run(IBootableImage image, ulong memoryBytes = 32UL << 20) => Create(image, memoryBytes).Run(RunTimeout);

    private static void AssertExited(MachineResult result, string console, int code)
    {
        Assert.True(result.Outcome == MachineOutcome.Exited, $"expected the guest to exit, got: {result}; console: \"{result.ConsoleOutput}\"");
        Assert.Equal(console, result.ConsoleOutput);
        Assert.Equal(code, result.ResultCode);
        Assert.Null(result.FatalReason);
    }

    // A real-mode guest that prints a line and then spins forever without exiting.
    private static GuestImage Spinner() => new("spinner", GuestAssembler.Assemble(16, 0x8000, g =>
    {
        var spin = g.Asm.CreateLabel();
        g.Asm.cld();
        g.Print("spinning\n");
        g.Asm.Label(ref spin);
        g.Asm.jmp(spin);
    }), 0x8000, 0x8000, BootMode.Real, 1, "prints and spins");

    [AcceleratorFact]
    public void Hello_prints_its_greeting_and_exits_with_0()
    {
        var result = Run(GuestLibrary.Hello());
        AssertExited(result, "Hello from an Actorvisor guest!\n", 0);
        Assert.True(result.Succeeded);
        var exit = Assert.IsType<VcpuExit.PortIo>(Assert.Single(result.VcpuExits));
        Assert.Equal(DebugExitDevice.DefaultPort, exit.Port);
        Assert.Equal(IoDirection.Out, exit.Direction);
    }

    [AcceleratorTheory]
    [InlineData(0)]
    [InlineData(42)]
    [InlineData(255)]
    public void Exit_with_returns_its_code(int code)
    {
        AssertExited(Run(GuestLibrary.ExitWith(code)), "", code);
    }

    [AcceleratorFact]
    public void A_halting_guest_ends_halted_without_a_result()
    {
        var result = Run(GuestLibrary.Halt());
        Assert.Equal(MachineOutcome.Halted, result.Outcome);
        Assert.Null(result.ResultCode);
        Assert.IsType<VcpuExit.Hlt>(Assert.Single(result.VcpuExits));
    }

    [AcceleratorFact]
    public void A_triple_fault_fails_the_run_with_the_reason()
    {
        var result = Run(GuestLibrary.TripleFault());
        Assert.Equal(MachineOutcome.Failed, result.Outcome);
        Assert.Null(result.ResultCode);
        Assert.Contains("vCPU 0", result.FatalReason);
        Assert.True(result.VcpuExits[0]!.IsFatal);
        AssertTripleFaultExit(result.VcpuExits[0]);
    }

    [AcceleratorTheory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(256)]
    public void Memory_writer_fills_guest_ram_and_reports_the_checksum(int pages)
    {
        var machine = Create(GuestLibrary.MemoryWriter(pages));
        var result = machine.Run(RunTimeout);
        // The closed form, computed here independently of the library: Σ k * 0x9E3779B1 for k < pages * 1024.
        ulong d = (ulong)pages * 1024;
        uint checksum = unchecked(0x9E37_79B1u * (uint)(d * (d - 1) / 2));
        AssertExited(result, $"checksum={checksum:x8}\n", (int)(checksum & 0xff));
        // The guest really wrote guest RAM: the host sees the pattern through the same memory.
        foreach (ulong k in new ulong[] { 0, 1, 1023, d - 1 })
            Assert.Equal(unchecked((uint)(k * 0x9E37_79B1UL)), machine.Memory.Read<uint>(GuestLayout.DataBase + k * 4));
        Assert.Equal(0u, machine.Memory.Read<uint>(GuestLayout.DataBase + d * 4));
    }

    [AcceleratorFact]
    public void Virtio_block_driver_reads_writes_and_flushes_a_disk()
    {
        const int sectors = 16;
        var disk = Path.Combine(_dir, "disk.img");
        var bytes = new byte[sectors * VirtioBlock.SectorSize];
        for (int s = 0; s < sectors; s++)
            for (int d = 0; d < VirtioBlock.SectorSize / 4; d++) BitConverter.TryWriteBytes(bytes.AsSpan(s * VirtioBlock.SectorSize + d * 4), 0x1000_0000 + s);
        File.WriteAllBytes(disk, bytes);
        var m = Machine.Create(_accelerator.Value, new MachineSpec { Image = VirtioGuests.BlockDriver(), Disks = [new VirtioDiskSpec { Path = disk }] });
        _machines.Add(m);
        AssertExited(m.Run(RunTimeout), "virtio-blk read=10000001 ok\n", 0);

        var written = File.ReadAllBytes(disk);
        for (int d = 0; d < VirtioBlock.SectorSize / 4; d++)
            Assert.Equal(VirtioGuests.WrittenPattern, BitConverter.ToUInt32(written, (int)VirtioGuests.WrittenSector * VirtioBlock.SectorSize + d * 4));
        Assert.Equal(0x1000_0003u, BitConverter.ToUInt32(written, 3 * VirtioBlock.SectorSize));
        var block = (VirtioBlock)m.Parts.Virtio.Transports[0].Device;
        Assert.Equal((1, 1, 1), (block.Reads, block.Writes, block.Flushes));
        if (NotifiesThroughEventFds)
        {
            Assert.Equal(0, m.Parts.Virtio.NotifyExitsToVcpu);
            Assert.Equal(3, m.Parts.Virtio.EventFdNotifications);
        }
        else
        {
            Assert.Equal(3, m.Parts.Virtio.NotifyExitsToVcpu);
        }
    }

    [AcceleratorFact]
    public void Mmio_prober_reads_all_ones_where_no_device_answers()
    {
        var machine = Create(GuestLibrary.MmioProber());
        AssertExited(machine.Run(RunTimeout), "read=ffffffff wrote=00000000\n", 0);
        Assert.Equal(1, machine.Bus.UnknownMmioReads);
        Assert.Equal(1, machine.Bus.UnknownMmioWrites);
    }

    [AcceleratorFact]
    public void Mmio_prober_exchanges_values_with_a_device()
    {
        var machine = Create(GuestLibrary.MmioProber());
        var bank = new MmioRegisterBank(2, "probe");
        machine.Bus.RegisterMmio(GuestLibrary.ProbeReadAddress, bank.SizeBytes, bank);
        bank[0] = 0x1234_5641;
        AssertExited(machine.Run(RunTimeout), "read=12345641 wrote=12345642\n", 0x42);
        Assert.Equal(0x1234_5642u, bank[1]);
        Assert.Equal(1, bank.Reads);
        Assert.Equal(1, bank.Writes);
        Assert.Equal(0, machine.Bus.UnknownMmioReads + machine.Bus.UnknownMmioWrites);
    }

    [AcceleratorFact]
    public void Long_mode_hello_runs_64_bit_code()
    {
        var machine = Create(GuestLibrary.LongModeHello());
        AssertExited(machine.Run(RunTimeout), "Hello from 64-bit long mode!\nrax=0000000100000000\n", 64);
        // After the run the vCPU state is readable: R15 holds the 33-bit value, and long mode is active.
        var regs = machine.Vcpus[0].GetRegisters();
        Assert.Equal(0x1_0000_0000UL, regs.R15);
        var sregs = machine.Vcpus[0].GetSpecialRegisters();
        Assert.NotEqual(0UL, sregs.Efer & ControlBits.EferLma);
        Assert.True(sregs.Cs.L);
    }

    [AcceleratorFact]
    public void The_async_pf_scheduler_guest_walks_present_memory_with_the_protocol_on()
    {
        // The walked range is ordinary RAM: nothing is missing, so the protocol is enabled but never used, while the
        // timer tick shares the vCPU between the walker and 3 compute tasks.
        const ulong walked = 0x40_0000;
        const int pages = 256;
        IBootableImage guest = AsyncPfSchedulerGuest.Build(walked, pages, 3, useAsyncPf: true);
        // KVM enables async PF only with its in-kernel LAPIC (kvm_pv_enable_async_pf: a #GP otherwise, seen as the guest's
        // "fatal: vector=0000000d" on the minimal platform), so on KVM the guest runs on the PC platform.
        if (_accelerator.Value.Kind == AcceleratorKind.Kvm) guest = new PcPlatformImage(guest);
        var machine = Create(guest);
        for (int p = 0; p < pages; p++) machine.Memory.Write(walked + (ulong)p * 4096, (uint)(p * 3 + 1));
        var result = machine.Run(RunTimeout);
        Assert.True(result.Outcome == MachineOutcome.Exited, $"expected the guest to exit, got: {result}; console: \"{result.ConsoleOutput}\"");
        Assert.True(result.ResultCode == 0, $"the guest exited with {result.ResultCode}; console: \"{result.ConsoleOutput}\"");
        var report = AsyncPfSchedulerReport.Parse(result.ConsoleOutput);
        Assert.True(report.AsyncPfEnabled);
        Assert.Equal((uint)pages, report.WalkPages);
        Assert.Equal((uint)(3 * pages * (pages - 1) / 2 + pages), report.WalkSum);
        Assert.Equal(0u, report.NotPresent + report.Ready);
        // KVM queues one wakeup-all when the guest enables the protocol (kvm_pv_enable_async_pf); the software
        // accelerator does not (yet): a difference the guest tolerates, pinned here so a change on either side shows.
        Assert.Equal(_accelerator.Value.Kind == AcceleratorKind.Kvm ? 1u : 0u, report.WakeupAll);
        Assert.Empty(report.Inconsistencies());
    }

    [AcceleratorFact]
    public void Two_vcpus_fill_their_own_regions_and_vcpu_0_reports_both()
    {
        const int pages = 16;
        var machine = Create(GuestLibrary.TwoVcpuWriter(pages));
        Assert.Equal(2, machine.Vcpus.Count);
        var result = machine.Run(RunTimeout);
        ulong d = pages * 1024;
        uint step = unchecked(0x9E37_79B1u * (uint)(d * (d - 1) / 2));
        uint sum0 = unchecked((uint)d * 1 + step), sum1 = unchecked((uint)d * 2 + step);
        AssertExited(result, $"vcpu0={sum0:x8}\nvcpu1={sum1:x8}\n", 2);
        Assert.IsType<VcpuExit.PortIo>(result.VcpuExits[0]);
        Assert.IsType<VcpuExit.Hlt>(result.VcpuExits[1]);
        Assert.Equal(1u, machine.Memory.Read<uint>(GuestLayout.DataBase));
        Assert.Equal(1u, machine.Memory.Read<uint>(GuestLayout.DataBase + 4));
        // Each region starts with its vCPU's own seed (n + 1), so each vCPU wrote where its index said.
        Assert.Equal(1u, machine.Memory.Read<uint>(GuestLibrary.TwoVcpuRegion(0, pages)));
        Assert.Equal(2u, machine.Memory.Read<uint>(GuestLibrary.TwoVcpuRegion(1, pages)));
    }

    [AcceleratorFact]
    public void Port_io_loop_exits_once_per_out()
    {
        var machine = Create(GuestLibrary.PortIoLoop(1000));
        AssertExited(machine.Run(RunTimeout), "port-io=000003e8\n", 0);
        Assert.Equal(1000, machine.Bus.UnknownPortWrites);
    }

    [AcceleratorFact]
    public void Serial_echo_echoes_console_input_up_to_the_newline_and_exits()
    {
        var machine = Create(GuestLibrary.SerialEcho());
        // Queued before the guest runs: it finds LSR.DR set at its first poll; the bytes after the newline stay unread.
        Assert.Equal(11, machine.SendConsoleInput("hi, guest\nx"u8));
        AssertExited(machine.Run(RunTimeout), GuestLibrary.SerialEchoReady + "hi, guest\n", 0);
    }

    public static TheoryData<string> LibraryGuestsWithResults() =>
        [.. GuestLibrary.All().Where(g => g.ExpectedResultCode is not null).Select(g => g.Name)];

    [AcceleratorTheory]
    [MemberData(nameof(LibraryGuestsWithResults))]
    public void Every_library_guest_produces_its_documented_output(string name)
    {
        var image = GuestLibrary.All().Single(g => g.Name == name);
        AssertExited(Run(image), image.ExpectedConsole, image.ExpectedResultCode!.Value);
    }

    [AcceleratorFact]
    public void A_flat_binary_file_boots_like_the_library_image()
    {
        var path = Path.Combine(_dir, "hello.bin");
        File.WriteAllBytes(path, GuestLibrary.Hello().Bytes.ToArray());
        AssertExited(Run(new FlatImageFile(path, BootMode.Real)), "Hello from an Actorvisor guest!\n", 0);
    }

    [AcceleratorFact]
    public void An_elf_executable_boots_in_long_mode()
    {
        var guest = GuestLibrary.LongModeHello();
        var elf = new TestElf { Entry = guest.Entry }
            .Load(guest.LoadAddress, guest.Bytes.ToArray(), (ulong)guest.Bytes.Length + 0x1000, 0x1000);
        var path = Path.Combine(_dir, "hello64.elf");
        File.WriteAllBytes(path, elf.Build());
        AssertExited(Run(new ElfImageFile(path)), guest.ExpectedConsole, 64);
    }

    [AcceleratorFact]
    public async Task Console_output_can_be_awaited_and_forwarded_while_the_guest_runs()
    {
        var forwarded = new CapturingConsoleSink();
        var machine = Create(Spinner(), console: forwarded);
        var run = Task.Run(() => machine.Run(RunTimeout));
        await machine.Console.WaitForTextAsync("spinning\n", RunTimeout);
        await forwarded.WaitForTextAsync("spinning\n", RunTimeout);
        machine.Dispose(); // stops the spinning vCPU, then tears down
        var result = await run.WaitAsync(RunTimeout);
        Assert.Equal(MachineOutcome.Stopped, result.Outcome);
        Assert.IsType<VcpuExit.Interrupted>(Assert.Single(result.VcpuExits));
    }

    [AcceleratorFact]
    public void A_guest_that_never_ends_times_out_and_is_kicked_out()
    {
        // The guest prints "spinning" within milliseconds of the start (a few tens beside a compile); 3 s leaves it
        // far more than that, so the console check cannot depend on load. Stopping takes milliseconds after the
        // timeout; the 60 s bound only catches a vCPU that was never kicked out.
        var machine = Create(Spinner());
        var result = machine.Run(TimeSpan.FromSeconds(3));
        Assert.Equal(MachineOutcome.TimedOut, result.Outcome);
        Assert.IsType<VcpuExit.Interrupted>(Assert.Single(result.VcpuExits));
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(60), $"stopping took {result.Elapsed}");
        Assert.Equal("spinning\n", result.ConsoleOutput);
    }

    [AcceleratorFact]
    public void Cancelling_a_run_stops_the_vcpus_and_throws()
    {
        var machine = Create(Spinner());
        using var cts = new CancellationTokenSource();
        machine.Console.WaitForTextAsync("spinning", RunTimeout).ContinueWith(_ => cts.Cancel());
        Assert.ThrowsAny<OperationCanceledException>(() => machine.Run(RunTimeout, cts.Token));
    }

    [AcceleratorFact]
    public void A_fatal_exit_on_one_vcpu_kicks_the_others()
    {
        // vCPU 0 spins; vCPU 1 (EDI = 1) executes UD2 without an IDT and shuts down.
        var bytes = GuestAssembler.Assemble(32, GuestLayout.ImageBase, g =>
        {
            var spin = g.Asm.CreateLabel();
            g.Asm.test(edi, edi);
            g.Asm.jz(spin);
            g.Asm.ud2();
            g.Asm.Label(ref spin);
            g.Asm.jmp(spin);
        });
        var image = new GuestImage("fault-on-1", bytes, GuestLayout.ImageBase, GuestLayout.ImageBase, BootMode.Protected, 2, "");
        var result = Run(image);
        Assert.Equal(MachineOutcome.Failed, result.Outcome);
        Assert.Contains("vCPU 1", result.FatalReason);
        Assert.IsType<VcpuExit.Interrupted>(result.VcpuExits[0]);
        Assert.True(result.VcpuExits[1]!.IsFatal);
    }

    [AcceleratorFact]
    public void A_machine_runs_once()
    {
        var machine = Create(GuestLibrary.ExitWith(1));
        machine.Run(RunTimeout);
        Assert.Throws<InvalidOperationException>(() => machine.Run(RunTimeout));
    }

    [AcceleratorFact]
    public void An_image_over_the_boot_structures_is_refused()
    {
        var path = Path.Combine(_dir, "low.bin");
        File.WriteAllBytes(path, GuestLibrary.Hello().Bytes.ToArray());
        var e = Assert.Throws<ImageLoadException>(() => Machine.Create(_accelerator.Value,
            new MachineSpec { Image = new FlatImageFile(path, BootMode.Protected), LoadAddress = 0x1000 }));
        Assert.Contains("overlap the IVT, GDT and boot stacks", e.Message);
    }
}

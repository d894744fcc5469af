using System.Text;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Machines;

/// <summary>
/// Boot sectors, low real-mode images and multiboot kernels run end to end on an accelerator: each prints what its
/// boot protocol handed it through the 16550 and exits through port 0xf4. Subclasses supply the accelerator.
/// </summary>
public abstract class BootProtocolEndToEndTests : IDisposable
{
    private readonly Lazy<IAccelerator> _accelerator;
    private readonly List<Machine> _machines = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-bootproto-").FullName;

    protected BootProtocolEndToEndTests()
    {
        _accelerator = new Lazy<IAccelerator>(CreateAccelerator);
    }

    /// <summary>A fresh accelerator for this test class instance.</summary>
    protected abstract IAccelerator CreateAccelerator();

    // A guest here runs in well under a second (the multiboot report: ~40 ms on the software accelerator);
    // the bound only keeps a broken boot from hanging the run on a loaded machine.
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    public void Dispose()
    {
        foreach (var m in _machines) m.Dispose();
        if (_accelerator.IsValueCreated) _accelerator.Value.Dispose();
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private MachineResult Run(MachineSpec spec)
    {
        var m = Machine.Create(_accelerator.Value, spec);
        _machines.Add(m);
        return m.Run(RunTimeout);
    }

    private static void AssertExited(MachineResult result, string console, int code)
    {
        Assert.True(result.Outcome == MachineOutcome.Exited, $"expected the guest to exit, got: {result}; console: \"{result.ConsoleOutput}\"");
        Assert.Equal(console, result.ConsoleOutput);
        Assert.Equal(code, result.ResultCode);
    }

    [AcceleratorFact]
    public void A_boot_sector_file_runs_at_7c00_with_the_bios_handoff()
    {
        var path = Write("boot.bin", BootProtocolGuests.BootSectorHello().Bytes.ToArray());
        var image = BootableImageFile.Open(path);
        Assert.IsType<BootSectorImageFile>(image);
        AssertExited(Run(new MachineSpec { Image = image, MemoryBytes = 16UL << 20 }), BootProtocolGuests.BootSectorHelloText, 0);
    }

    [AcceleratorFact]
    public void A_flat_real_mode_image_at_7c00_runs_with_its_stack_below_it()
    {
        // The command: --format flat --mode real --load-address 0x7c00 --entry 0x7c00 (no BIOS handoff: DL = 0).
        var path = Write("boot.bin", BootProtocolGuests.BootSectorHello().Bytes.ToArray());
        var spec = new MachineSpec { Image = new FlatImageFile(path, BootMode.Real), BootMode = BootMode.Real, LoadAddress = 0x7c00, Entry = 0x7c00 };
        AssertExited(Run(spec), "Hello from a boot sector! dl=00000000 sp=00007c00\n", 0);
    }

    [AcceleratorFact]
    public void A_real_mode_image_runs_from_0x500()
    {
        var bytes = GuestAssembler.Assemble(16, 0x500, g =>
        {
            g.Asm.cld();
            g.Print("low\n");
            g.Asm.mov(ax, sp);
            g.Asm.@out(0xf4, al); // SP's low byte: the stack sits just below the image (0x500)
            g.HaltForever();
        });
        var spec = new MachineSpec { Image = new FlatImageFile(Write("low.bin", bytes), BootMode.Real), LoadAddress = 0x500 };
        AssertExited(Run(spec), "low\n", 0x00);
    }

    [AcceleratorFact]
    public void The_multiboot_guest_reports_its_memory_command_line_and_module()
    {
        const ulong memory = 48UL << 20;
        var kernel = Write("kernel.bin", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        var module = Write("hello.txt", Encoding.ASCII.GetBytes("hello from a module"));
        var image = BootableImageFile.Open(kernel, commandLine: "console=ttyS0 answer=42", modules: [MultibootModule.Parse($"{module}=greeting")]);
        var result = Run(new MachineSpec { Image = image, MemoryBytes = memory });
        AssertExited(result, BootProtocolGuests.ExpectedMultibootReport(memory, "console=ttyS0 answer=42", [("greeting", "hello from a module")]), 0);
        Assert.Contains("mem_upper=0000bc00", result.ConsoleOutput); // 47 MiB in KiB, written out once by hand
    }

    [AcceleratorFact]
    public void The_multiboot_library_guest_boots_from_its_image()
    {
        var guest = BootProtocolGuests.MultibootInfoReporter();
        AssertExited(Run(new MachineSpec { Image = guest }), guest.ExpectedConsole, 0);
    }

    [AcceleratorFact]
    public void A_multiboot_kernel_entered_without_the_magic_says_so()
    {
        // Booted as a flat protected-mode image at its entry: EAX is 0, not 0x2BADB002.
        var guest = BootProtocolGuests.MultibootInfoReporter();
        var path = Write("kernel.bin", guest.Bytes.ToArray());
        var spec = new MachineSpec { Image = new FlatImageFile(path, BootMode.Protected), Entry = guest.Entry };
        AssertExited(Run(spec), "not booted by a multiboot loader\n", 1);
    }
}

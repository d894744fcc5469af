using System.Text;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;
using Iced.Intel;
using Decoder = Iced.Intel.Decoder;

namespace Actorvisor.Hardware.Tests.Guests;

public sealed class GuestLibraryTests
{
    private static int Bitness(BootMode mode) => mode switch { BootMode.Real => 16, BootMode.Protected => 32, _ => 64 };

    // Decodes from the entry until the first HLT: the code a vCPU executes before it stops.
    private static List<Instruction> CodeUntilHalt(GuestImage image)
    {
        var bytes = image.Bytes.ToArray();
        var decoder = Decoder.Create(Bitness(image.BootMode), new ByteArrayCodeReader(bytes), image.LoadAddress);
        decoder.IP = image.Entry;
        var list = new List<Instruction>();
        while (decoder.IP < image.LoadAddress + (ulong)bytes.Length)
        {
            var ins = decoder.Decode();
            Assert.False(ins.IsInvalid, $"{image.Name}: invalid instruction at 0x{ins.IP:x}");
            list.Add(ins);
            if (ins.Mnemonic == Mnemonic.Hlt) break;
        }
        return list;
    }

    private static string Disassemble(IEnumerable<Instruction> code)
    {
        var formatter = new NasmFormatter();
        var output = new StringOutput();
        var sb = new StringBuilder();
        foreach (var ins in code)
        {
            formatter.Format(ins, output);
            sb.AppendLine(output.ToStringAndReset());
        }
        return sb.ToString();
    }

    public static TheoryData<string> Names() => [.. GuestLibrary.All().Select(g => g.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_guest_assembles_to_valid_code_at_its_mode_default_address(string name)
    {
        var image = GuestLibrary.All().Single(g => g.Name == name);
        Assert.Equal(image.Format == ImageFormat.BootSector ? BootSector.LoadAddress : GuestLayout.DefaultLoadAddress(image.BootMode), image.LoadAddress);
        Assert.True(image.Bytes.Length > 0);
        if (image.BootMode == BootMode.Real) Assert.True(image.LoadAddress + (ulong)image.Bytes.Length <= GuestLayout.RealModeImageEnd);
        var code = CodeUntilHalt(image);
        Assert.NotEmpty(code);
        Assert.False(string.IsNullOrWhiteSpace(image.Description));
    }

    [Fact]
    public void Hello_polls_the_line_status_register_prints_its_text_and_writes_the_exit_port()
    {
        var hello = GuestLibrary.Hello();
        Assert.Equal(BootMode.Real, hello.BootMode);
        Assert.Equal("Hello from an Actorvisor guest!\n", hello.ExpectedConsole);
        Assert.Equal(0, hello.ExpectedResultCode);
        var text = Encoding.ASCII.GetBytes("Hello from an Actorvisor guest!\n\0");
        Assert.True(hello.Bytes.Span.IndexOf(text) > 0);
        var all = Disassemble(CodeUntilHalt(hello));
        Assert.Contains("out 0F4h,al", all);
        // The string address loaded into SI is the address of the text in the image.
        var code = CodeUntilHalt(hello);
        var loadSi = code.First(i => i.Mnemonic == Mnemonic.Mov && i.Op0Register == Register.SI);
        Assert.Equal(hello.LoadAddress + (ulong)hello.Bytes.Span.IndexOf(text), loadSi.GetImmediate(1));
    }

    [Fact]
    public void Long_mode_hello_is_64_bit_code_using_r15()
    {
        var image = GuestLibrary.LongModeHello();
        Assert.Equal(BootMode.Long, image.BootMode);
        var code = CodeUntilHalt(image);
        Assert.Contains(code, i => i.Op0Register == Register.R15);
        Assert.Contains(code, i => i.Mnemonic == Mnemonic.Lea && i.IsIPRelativeMemoryOperand);
        Assert.Equal(64, image.ExpectedResultCode);
        Assert.Equal(0x1_0000_0000UL >> 26, 64UL);
    }

    [Fact]
    public void Exit_with_returns_the_requested_code_and_rejects_non_bytes()
    {
        Assert.Equal(42, GuestLibrary.ExitWith(42).ExpectedResultCode);
        var code = CodeUntilHalt(GuestLibrary.ExitWith(200));
        Assert.Contains(code, i => i.Mnemonic == Mnemonic.Mov && i.Op0Register == Register.AL && i.GetImmediate(1) == 200);
        Assert.Equal("code", Assert.Throws<ArgumentOutOfRangeException>(() => GuestLibrary.ExitWith(256)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => GuestLibrary.ExitWith(-1));
    }

    // Sums what the guest's loop writes, the slow way, to check the closed forms the tests rely on.
    private static uint SimulatedSum(int dwords, uint start)
    {
        uint v = start, sum = 0;
        for (int k = 0; k < dwords; k++) { sum = unchecked(sum + v); v = unchecked(v + GuestLibrary.FillStep); }
        return sum;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void Memory_writer_checksum_formula_matches_the_fill_pattern(int pages)
    {
        uint expected = SimulatedSum(pages * 1024, 0);
        Assert.Equal(expected, GuestLibrary.ExpectedMemoryChecksum(pages));
        var image = GuestLibrary.MemoryWriter(pages);
        Assert.Equal($"checksum={expected:x8}\n", image.ExpectedConsole);
        Assert.Equal((int)(expected & 0xff), image.ExpectedResultCode);
        Assert.Equal(GuestLayout.DataBase + (ulong)pages * 4096, image.MinimumMemoryBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => GuestLibrary.MemoryWriter(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => GuestLibrary.MemoryWriter(GuestLibrary.MaxMemoryWriterPages + 1));
    }

    [Fact]
    public void Two_vcpu_writer_regions_are_disjoint_and_sums_match_the_pattern()
    {
        var image = GuestLibrary.TwoVcpuWriter(4);
        Assert.Equal(2, image.VcpuCount);
        Assert.Equal(GuestLibrary.TwoVcpuRegion(0, 4) + 4 * 4096, GuestLibrary.TwoVcpuRegion(1, 4));
        Assert.True(GuestLibrary.TwoVcpuRegion(0, 4) >= GuestLayout.DataBase + 8); // past both flags
        Assert.Equal(SimulatedSum(4096, 1), GuestLibrary.ExpectedRegionSum(0, 4));
        Assert.Equal(SimulatedSum(4096, 2), GuestLibrary.ExpectedRegionSum(1, 4));
        Assert.Equal($"vcpu0={SimulatedSum(4096, 1):x8}\nvcpu1={SimulatedSum(4096, 2):x8}\n", image.ExpectedConsole);
        Assert.Equal(2, image.ExpectedResultCode);
    }

    [Fact]
    public void Mmio_prober_expectations_follow_the_register_value()
    {
        Assert.Equal("read=ffffffff wrote=00000000\n", GuestLibrary.MmioProber().ExpectedConsole);
        Assert.Equal("read=12345678 wrote=12345679\n", GuestLibrary.ExpectedProbeConsole(0x12345678));
        var code = CodeUntilHalt(GuestLibrary.MmioProber());
        Assert.Contains(code, i => i.Mnemonic == Mnemonic.Mov && i.Op1Kind == OpKind.Memory && i.MemoryDisplacement64 == GuestLibrary.ProbeReadAddress);
        Assert.Contains(code, i => i.Mnemonic == Mnemonic.Mov && i.Op0Kind == OpKind.Memory && i.MemoryDisplacement64 == GuestLibrary.ProbeWriteAddress);
    }

    [Fact]
    public void A_guest_image_loads_only_where_it_was_assembled_for()
    {
        using var ram = HostMemory.Allocate(1UL << 20);
        var hello = GuestLibrary.Hello();
        var loaded = hello.LoadInto(ram);
        Assert.Equal(hello.Entry, loaded.Entry);
        var copy = new byte[hello.Bytes.Length];
        ram.Read(hello.LoadAddress, copy);
        Assert.Equal(hello.Bytes.ToArray(), copy);
        var e = Assert.Throws<ImageLoadException>(() => hello.LoadInto(ram, 0x9000));
        Assert.Contains("hello", e.Message);
        Assert.Contains("0x8000", e.Message);
    }

    [Fact]
    public void Guest_image_validates_its_entry()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestImage("x", [0x90], 0x8000, 0x8001, BootMode.Real, 1, ""));
        Assert.Throws<ArgumentException>(() => new GuestImage("x", [], 0x8000, 0x8000, BootMode.Real, 1, ""));
    }
}

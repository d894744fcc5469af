using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// Builds a guest program with Iced's assembler plus the few routines every library guest needs: print a
/// string and a hex number on COM1 (polling the LSR like a BIOS would), write the debug-exit port, halt.
/// </summary>
/// <remarks>
/// 16- and 32-bit code cannot take a label's address with a RIP-relative LEA, so programs load string
/// addresses as immediates. The program is therefore assembled twice: the first pass learns where every
/// label lands, the second emits the real addresses. Immediates have a fixed width, so both passes have
/// the same layout (checked).
/// </remarks>
internal sealed class GuestAssembler
{
    private const ushort Com1Data = 0x3f8, Com1LineStatus = 0x3fd;
    private const byte LsrTransmitterEmpty = 0x20;

    private readonly Dictionary<string, Label> _labels = [];
    private readonly List<string> _strings = [];
    private readonly IReadOnlyDictionary<string, ulong>? _previousPass;
    private bool _usesPrint, _usesHex32, _usesHex64, _usesPutChar;

    private GuestAssembler(int bitness, ulong origin, IReadOnlyDictionary<string, ulong>? previousPass)
    {
        Bitness = bitness;
        Origin = origin;
        _previousPass = previousPass;
        Asm = new Assembler(bitness);
    }

    /// <summary>16, 32 or 64.</summary>
    public int Bitness { get; }

    /// <summary>The address the first byte is assembled for.</summary>
    public ulong Origin { get; }

    /// <summary>The underlying Iced assembler.</summary>
    public Assembler Asm { get; }

    /// <summary>Assembles <paramref name="program"/> for <paramref name="bitness"/>-bit code loaded at <paramref name="origin"/>.</summary>
    public static byte[] Assemble(int bitness, ulong origin, Action<GuestAssembler> program)
    {
        var first = new GuestAssembler(bitness, origin, null);
        program(first);
        var (_, addresses) = first.Finish();
        var second = new GuestAssembler(bitness, origin, addresses);
        program(second);
        var (bytes, final) = second.Finish();
        foreach (var (name, address) in final)
        {
            if (addresses[name] != address)
                throw new InvalidOperationException($"guest assembly is unstable: label '{name}' moved from 0x{addresses[name]:x} to 0x{address:x} between passes");
        }
        return bytes;
    }

    /// <summary>The label called <paramref name="name"/> (created on first use).</summary>
    public Label L(string name)
    {
        if (!_labels.TryGetValue(name, out var label))
        {
            label = Asm.CreateLabel(name);
            _labels[name] = label;
        }
        return label;
    }

    /// <summary>Places label <paramref name="name"/> at the current position.</summary>
    public void Mark(string name)
    {
        var label = L(name);
        Asm.Label(ref label);
        _labels[name] = label;
    }

    /// <summary>
    /// The address of label <paramref name="name"/> (final in the second pass; the origin as a same-width
    /// placeholder in the first).
    /// </summary>
    public ulong AddressOf(string name) => _previousPass is null ? Origin : _previousPass[name];

    /// <summary>Prints <paramref name="text"/> (ASCII) on COM1. Clobbers (E/R)SI, AX, DX.</summary>
    public void Print(string text)
    {
        int index = _strings.IndexOf(text);
        if (index < 0)
        {
            index = _strings.Count;
            _strings.Add(text);
        }
        LoadPointer($"str{index}");
        _usesPrint = _usesPutChar = true;
        Asm.call(L("print"));
    }

    /// <summary>Prints the NUL-terminated string (E/R)SI points at, found at run time. Clobbers (E/R)SI, AX, DX.</summary>
    public void PrintAtSi()
    {
        _usesPrint = _usesPutChar = true;
        Asm.call(L("print"));
    }

    /// <summary>Prints the character in AL on COM1. Clobbers AX, DX.</summary>
    public void PutCharAl()
    {
        _usesPutChar = true;
        Asm.call(L("put_char"));
    }

    /// <summary>Prints one character on COM1. Clobbers AX, DX.</summary>
    public void PutChar(char c)
    {
        Asm.mov(al, (byte)c);
        _usesPutChar = true;
        Asm.call(L("put_char"));
    }

    /// <summary>Prints EAX as 8 lowercase hex digits. Clobbers EAX, EBX, ECX, DX.</summary>
    public void PrintHex32()
    {
        _usesHex32 = _usesPutChar = true;
        Asm.call(L("print_hex32"));
    }

    /// <summary>Prints RAX as 16 lowercase hex digits (64-bit code only). Clobbers RAX, RBX, RCX, DX.</summary>
    public void PrintHex64()
    {
        if (Bitness != 64) throw new InvalidOperationException("PrintHex64 needs 64-bit code");
        _usesHex64 = _usesPutChar = true;
        Asm.call(L("print_hex64"));
    }

    /// <summary>
    /// 32-bit code: sums <paramref name="dwords"/> dwords from <paramref name="address"/> (mod 2^32) into EBP and prints
    /// "<paramref name="label"/>XXXXXXXX\n" (the sum in hex). Clobbers EAX, EBX, ECX, EDX, ESI.
    /// </summary>
    public void SumDwordsAndPrint(uint address, uint dwords, string label)
    {
        var sum = Asm.CreateLabel();
        Asm.mov(esi, address);
        Asm.mov(ecx, dwords);
        Asm.xor(edx, edx);
        Asm.Label(ref sum);
        Asm.add(edx, __dword_ptr[esi]);
        Asm.add(esi, 4);
        Asm.dec(ecx);
        Asm.jnz(sum);
        Asm.mov(ebp, edx);
        Print(label);
        Asm.mov(eax, ebp);
        PrintHex32();
        PutChar('\n');
    }

    /// <summary>Writes AL to the debug-exit port (the result code), then halts forever in case the run goes on.</summary>
    public void DebugExitWithAl()
    {
        Asm.@out((byte)Devices.DebugExitDevice.DefaultPort, al);
        HaltForever();
    }

    /// <summary>Emits <c>hlt</c> in a loop.</summary>
    public void HaltForever()
    {
        var loop = Asm.CreateLabel();
        Asm.Label(ref loop);
        Asm.hlt();
        Asm.jmp(loop);
    }

    private void LoadPointer(string name)
    {
        switch (Bitness)
        {
            case 16: Asm.mov(si, (ushort)AddressOf(name)); break;
            case 32: Asm.mov(esi, (uint)AddressOf(name)); break;
            default: Asm.lea(rsi, __[L(name)]); break;
        }
    }

    private (byte[] Bytes, Dictionary<string, ulong> Labels) Finish()
    {
        if (_usesPrint)
        {
            // print: (E/R)SI -> NUL-terminated string.
            Mark("print");
            var done = Asm.CreateLabel();
            Asm.lodsb();
            Asm.test(al, al);
            Asm.jz(done);
            Asm.call(L("put_char"));
            Asm.jmp(L("print"));
            Asm.Label(ref done);
            Asm.ret();
        }
        if (_usesHex32)
        {
            Mark("print_hex32");
            var next = Asm.CreateLabel();
            Asm.mov(ecx, 8);
            Asm.Label(ref next);
            Asm.rol(eax, 4);
            Asm.mov(ebx, eax);
            EmitHexDigitOfAl();
            Asm.mov(eax, ebx);
            Asm.dec(ecx);
            Asm.jnz(next);
            Asm.ret();
        }
        if (_usesHex64)
        {
            Mark("print_hex64");
            var next = Asm.CreateLabel();
            Asm.mov(ecx, 16);
            Asm.Label(ref next);
            Asm.rol(rax, 4);
            Asm.mov(rbx, rax);
            EmitHexDigitOfAl();
            Asm.mov(rax, rbx);
            Asm.dec(ecx);
            Asm.jnz(next);
            Asm.ret();
        }
        if (_usesPutChar)
        {
            // put_char: AL -> COM1, once the transmitter holding register is empty.
            Mark("put_char");
            var wait = Asm.CreateLabel();
            Asm.mov(ah, al);
            Asm.mov(dx, Com1LineStatus);
            Asm.Label(ref wait);
            Asm.@in(al, dx);
            Asm.test(al, LsrTransmitterEmpty);
            Asm.jz(wait);
            Asm.mov(al, ah);
            Asm.mov(dx, Com1Data);
            Asm.@out(dx, al);
            Asm.ret();
        }
        for (int i = 0; i < _strings.Count; i++)
        {
            Mark($"str{i}");
            Asm.db([.. System.Text.Encoding.ASCII.GetBytes(_strings[i]), 0]);
        }

        using var stream = new MemoryStream();
        var result = Asm.Assemble(new StreamCodeWriter(stream), Origin, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var addresses = new Dictionary<string, ulong>();
        foreach (var (name, label) in _labels) addresses[name] = result.GetLabelRIP(label);
        return (stream.ToArray(), addresses);
    }

    private void EmitHexDigitOfAl()
    {
        var emit = Asm.CreateLabel();
        Asm.and(al, 0x0f);
        Asm.add(al, (byte)'0');
        Asm.cmp(al, (byte)'9');
        Asm.jbe(emit);
        Asm.add(al, (byte)('a' - '9' - 1));
        Asm.Label(ref emit);
        Asm.call(L("put_char"));
    }
}

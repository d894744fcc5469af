using Iced.Intel;

namespace Actorvisor.Hardware.Tests.Contract;

/// <summary>Assembles test guests with Iced.</summary>
public static class GuestCode
{
    /// <summary>Assembles the instructions <paramref name="build"/> emits for <paramref name="bitness"/>-bit code at <paramref name="ip"/>.</summary>
    public static byte[] Assemble(int bitness, ulong ip, Action<Assembler> build)
    {
        var asm = new Assembler(bitness);
        build(asm);
        var writer = new BytesWriter();
        asm.Assemble(writer, ip);
        return writer.Bytes.ToArray();
    }

    private sealed class BytesWriter : CodeWriter
    {
        public List<byte> Bytes { get; } = [];
        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}

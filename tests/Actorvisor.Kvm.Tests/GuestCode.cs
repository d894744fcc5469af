using Iced.Intel;

namespace Actorvisor.Kvm.Tests;

/// <summary>Assembles small guest programs with Iced, so that each test shows its guest code as instructions.</summary>
internal static class GuestCode
{
    /// <summary>Assembles <paramref name="build"/> for <paramref name="bitness"/>-bit code loaded at <paramref name="address"/>.</summary>
    public static byte[] Assemble(int bitness, ulong address, Action<Assembler> build)
    {
        var a = new Assembler(bitness);
        build(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        return stream.ToArray();
    }
}

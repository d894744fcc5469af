using Actorvisor.Host.Cli;

namespace Actorvisor.Host.Tests.Cli;

public class ByteSizeTests
{
    [Theory]
    [InlineData("4096", 4096UL)]
    [InlineData("64M", 64UL << 20)]
    [InlineData("64MiB", 64UL << 20)]
    [InlineData("1g", 1UL << 30)]
    [InlineData("512K", 512UL << 10)]
    [InlineData("0x10000", 0x10000UL)]
    [InlineData("1_048_576", 1048576UL)]
    public void Sizes_parse(string text, ulong expected)
    {
        Assert.True(ByteSize.TryParse(text, out var bytes, out var error), error);
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("12Q")]
    [InlineData("-4K")]
    [InlineData("M")]
    [InlineData("99999999999999999999G")]
    public void Bad_sizes_are_refused_with_the_text_in_the_message(string text)
    {
        Assert.False(ByteSize.TryParse(text, out _, out var error));
        Assert.Contains($"'{text}'", error);
    }
}

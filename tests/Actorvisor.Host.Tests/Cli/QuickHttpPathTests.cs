using System.Text;
using Actorvisor.Host.Cli;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>
/// The quick path of `vm list` / `vm describe` over HTTP: which command lines it takes (the rest go to the full command
/// line), how it reads an HTTP/1.1 answer, and the table it prints.
/// </summary>
public sealed class QuickHttpPathTests
{
    [Theory]
    [InlineData("vm list --http https://h:1", false)]
    [InlineData("vm list --http https://h:1 --on n2 --json --token t --timeout 2.5", false)]
    [InlineData("vm describe web-1 --http http://h:1 --tls-ca ca.pem --token-file tok", true)]
    [InlineData("vm describe --http http://h:1 web-1 --node a:1 --cluster c", true)]
    public void The_plain_forms_with_an_http_url_are_taken(string line, bool describe)
    {
        var quick = QuickVmCommandLine.Recognize(line.Split(' '));
        Assert.NotNull(quick);
        Assert.Equal(describe, quick.Describe);
    }

    [Theory]
    [InlineData("vm list")] // no URL (ACTORVISOR_HTTP is not set in the test host): the cluster client
    [InlineData("vm list --http https://h:1 --help")]
    [InlineData("vm list --http=https://h:1")]
    [InlineData("vm list --http https://h:1 --json --json")]
    [InlineData("vm list --http https://h:1 --token a --token b")]
    [InlineData("vm list --http https://h:1 --timeout soon")]
    [InlineData("vm list --http https://h:1 --token")]
    [InlineData("vm list --http https://h:1 extra")]
    [InlineData("vm describe --http https://h:1")]
    [InlineData("vm describe a b --http https://h:1")]
    [InlineData("vm describe a --on n1 --http https://h:1")]
    [InlineData("vm lits --http https://h:1")]
    [InlineData("vm start a --http https://h:1")]
    [InlineData("cluster status --http https://h:1")]
    public void Anything_else_goes_to_the_full_command_line(string line)
    {
        Assert.Null(Environment.GetEnvironmentVariable("ACTORVISOR_HTTP"));
        Assert.Null(QuickVmCommandLine.Recognize(line.Split(' ')));
    }

    [Fact]
    public void An_answer_with_a_length_is_complete_once_its_body_is_in()
    {
        var answer = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"code\":1}\n"u8.ToArray();
        Assert.Null(OneShotHttpGet.TryParse(answer.AsSpan(0, answer.Length - 3), closed: false));
        var response = OneShotHttpGet.TryParse(answer, closed: false);
        Assert.NotNull(response);
        Assert.Equal(404, response.Status);
        Assert.Equal("Not Found", response.Reason);
        Assert.Equal("{\"code\":1}\n", response.Body);
        Assert.Throws<InvalidDataException>(() => OneShotHttpGet.TryParse(answer.AsSpan(0, answer.Length - 3), closed: true));
    }

    [Fact]
    public void A_chunked_answer_is_joined_and_complete_at_its_last_chunk()
    {
        var answer = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"vms\r\nA;ext=1\r\n\":[1,2,3]}\r\n0\r\n\r\n");
        int lastChunk = answer.Length - 5;
        Assert.Null(OneShotHttpGet.TryParse(answer.AsSpan(0, lastChunk), closed: false));
        Assert.Equal("{\"vms\":[1,2,3]}", OneShotHttpGet.TryParse(answer, closed: false)!.Body);
        Assert.Throws<InvalidDataException>(() => OneShotHttpGet.TryParse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"u8, closed: false));
    }

    [Fact]
    public void An_answer_without_a_length_ends_with_the_connection_and_a_non_http_one_is_refused()
    {
        var answer = "HTTP/1.0 200 OK\r\n\r\nabc"u8.ToArray();
        Assert.Null(OneShotHttpGet.TryParse(answer, closed: false));
        Assert.Equal("abc", OneShotHttpGet.TryParse(answer, closed: true)!.Body);
        Assert.Throws<InvalidDataException>(() => OneShotHttpGet.TryParse("SSH-2.0-OpenSSH\r\n\r\n"u8, closed: false));
        Assert.Throws<InvalidDataException>(() => OneShotHttpGet.TryParse("HTTP/1.1 2"u8, closed: true));
    }

    [Fact]
    public void A_table_sizes_its_columns_to_the_widest_cell_and_colours_only_on_request()
    {
        var table = new TextTable("NAME", "STATUS").AddRow(("web-1", null), ("Running", "32")).AddRow("a", "Created");
        Assert.Equal(
            "┌───────┬─────────┐\n" +
            "│ NAME  │ STATUS  │\n" +
            "├───────┼─────────┤\n" +
            "│ web-1 │ Running │\n" +
            "│ a     │ Created │\n" +
            "└───────┴─────────┘\n", table.Render(color: false));
        Assert.Contains("│ web-1 │ \e[32mRunning\e[0m │\n", table.Render(color: true));
        Assert.Throws<ArgumentException>(() => table.AddRow("only one"));
    }
}

using Actorvisor.Actors.Vm;

namespace Actorvisor.Actors.Tests.Vm;

public class VmSpecTests
{
    private static VmParts NoBuild(VmBuildContext _) => throw new InvalidOperationException("not built in this test");

    [Theory]
    [InlineData("", 1, 4096UL, "name: must not be empty")]
    [InlineData("a b", 1, 4096UL, "name: 'a b' contains ' '")]
    [InlineData("vm/1", 1, 4096UL, "contains '/'")]
    [InlineData("ok", 0, 4096UL, "vcpus: 0")]
    [InlineData("ok", 1, 0UL, "memory: must be greater than zero")]
    public void Invalid_specs_name_the_field(string name, int vcpus, ulong memory, string expected)
    {
        var problem = new VmActorSpec(name, vcpus, memory, NoBuild).Validate();
        Assert.NotNull(problem);
        Assert.Contains(expected, problem);
    }

    [Fact]
    public void A_valid_spec_has_no_problem() => Assert.Null(new VmActorSpec("web-1.a_b", 2, 1 << 20, NoBuild).Validate());
}

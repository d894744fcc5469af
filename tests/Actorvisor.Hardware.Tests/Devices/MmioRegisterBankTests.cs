using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Tests.Devices;

public sealed class MmioRegisterBankTests
{
    [Fact]
    public void Guest_and_host_see_the_same_registers()
    {
        var bank = new MmioRegisterBank(4);
        var bus = new DeviceBus();
        bus.RegisterMmio(0xd000_0000, bank.SizeBytes, bank);
        bank[0] = 0x1234_5678;

        var read = new byte[4];
        bus.OnMmio(0xd000_0000, false, read);
        Assert.Equal(0x1234_5678u, BitConverter.ToUInt32(read));

        bus.OnMmio(0xd000_0004, true, BitConverter.GetBytes(0xcafe_f00du));
        Assert.Equal(0xcafe_f00du, bank[1]);

        // A byte write merges into the register.
        bus.OnMmio(0xd000_0005, true, new byte[] { 0x11 });
        Assert.Equal(0xcafe_110du, bank[1]);
        Assert.Equal(1, bank.Reads);
        Assert.Equal(2, bank.Writes);
        Assert.Throws<ArgumentOutOfRangeException>(() => bank[4]);
    }
}

using System;
using System.Threading.Tasks;
using TenantDbGuard.Bench;

// dotnet run -c Release --project bench/Runtime.Bench -- storm|instances N|overhead|killcut|switchcost [options]
try
{
    var arguments = new Arguments(args);
    switch (arguments.Command)
    {
        case "storm":
            return await StormBench.RunAsync(new StormBench.Settings(
                Seconds: arguments.GetInt("--seconds", 30),
                Tenants: arguments.GetInt("--tenants", 300),
                Workers: arguments.GetInt("--workers", 32),
                MaxConnections: arguments.GetInt("--max-connections", 151),
                CsvPath: arguments.GetString("--csv", "artifacts/storm.csv"),
                Modes: arguments.GetString("--modes", "raw,runtime"),
                HotPercent: arguments.GetPercent("--hot-percent"),
                TableCache: arguments.GetInt("--table-cache", 0),
                WarmupSeconds: arguments.GetInt("--warmup", 0),
                AllocationTypes: arguments.GetSwitch("--alloc-types", defaultValue: false)));
        case "instances":
            return await InstancesBench.RunAsync(new InstancesBench.Settings(
                Instances: arguments.GetPositionalInt("instances N"),
                Seconds: arguments.GetInt("--seconds", 20),
                Tenants: arguments.GetInt("--tenants", 300),
                Workers: arguments.GetInt("--workers", 32),
                MaxConnections: arguments.GetInt("--max-connections", 151),
                CoordinateOpens: arguments.GetSwitch("--coordinate", defaultValue: true)));
        case "instance":
            // One child process of "instances".
            return await InstancesBench.RunInstanceAsync(new InstancesBench.InstanceSettings(
                MasterConnectionString: arguments.GetString("--master", string.Empty),
                Seconds: arguments.GetInt("--seconds", 20),
                Tenants: arguments.GetInt("--tenants", 300),
                Workers: arguments.GetInt("--workers", 32),
                CoordinateOpens: arguments.GetSwitch("--coordinate", defaultValue: true)));
        case "overhead":
            return await OverheadBench.RunAsync(new OverheadBench.Settings(
                Seconds: arguments.GetInt("--seconds", 10),
                Rounds: arguments.GetInt("--rounds", 6),
                Workers: arguments.GetInt("--workers", 4),
                WarmupSeconds: arguments.GetInt("--warmup", 3),
                ProbeOperations: arguments.GetInt("--probe-ops", 5000)));
        case "switchcost":
            return await SwitchCostBench.RunAsync(new SwitchCostBench.Settings(
                Seconds: arguments.GetInt("--seconds", 6),
                Rounds: arguments.GetInt("--rounds", 3),
                Tenants: arguments.GetInt("--tenants", 300),
                Workers: arguments.GetInt("--workers", 32)));
        case "killcut":
            return await KillCutBench.RunAsync(new KillCutBench.Settings(Seconds: arguments.GetInt("--seconds", 10)));
        default:
            Console.Error.WriteLine(Arguments.Usage);
            return 2;
    }
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine(exception.Message);
    Console.Error.WriteLine(Arguments.Usage);
    return 2;
}

using System.Collections.Generic;
using Microsoft.Extensions.Options;

namespace TenantCrm;

/// <summary>The <c>TenantCrm</c> settings: how many tenants to seed and how.</summary>
public sealed class CrmOptions
{
    /// <summary>The configuration section, <c>TenantCrm</c> (environment: <c>TenantCrm__Tenants</c>, ...).</summary>
    public const string Section = "TenantCrm";

    /// <summary>How many tenants the seeder makes sure exist: <c>tenant-0001</c> to <c>tenant-NNNN</c>. Default 200.</summary>
    public int Tenants { get; set; } = 200;

    /// <summary>Customers seeded in each tenant's database. Default 20.</summary>
    public int CustomersPerTenant { get; set; } = 20;

    /// <summary>Deals seeded in each tenant's database. Default 30.</summary>
    public int DealsPerTenant { get; set; } = 30;

    /// <summary>Tenants created by one batch of statements. Default 25.</summary>
    public int SeedBatchSize { get; set; } = 25;

    /// <summary>Batches run at once; each holds one master connection. Default 4.</summary>
    public int SeedParallelism { get; set; } = 4;

    /// <summary>What is out of range, one line per setting; empty when all is well.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        Check(Tenants is >= 0 and <= 9999, $"{Section}:Tenants must be between 0 and 9999 (tenant keys have four digits); it is {Tenants}.");
        Check(CustomersPerTenant is >= 0 and <= 10_000, $"{Section}:CustomersPerTenant must be between 0 and 10000; it is {CustomersPerTenant}.");
        Check(DealsPerTenant is >= 0 and <= 10_000, $"{Section}:DealsPerTenant must be between 0 and 10000; it is {DealsPerTenant}.");
        Check(DealsPerTenant == 0 || CustomersPerTenant > 0, $"{Section}:DealsPerTenant needs customers to belong to; set CustomersPerTenant above 0.");
        Check(SeedBatchSize is >= 1 and <= 100, $"{Section}:SeedBatchSize must be between 1 and 100; it is {SeedBatchSize}.");
        Check(SeedParallelism is >= 1 and <= 16, $"{Section}:SeedParallelism must be between 1 and 16; it is {SeedParallelism}.");
        return problems;

        void Check(bool condition, string problem)
        {
            if (!condition)
            {
                problems.Add(problem);
            }
        }
    }
}

/// <summary>Refuses to start with <see cref="CrmOptions"/> out of range, naming each setting.</summary>
internal sealed class CrmOptionsValidator : IValidateOptions<CrmOptions>
{
    public ValidateOptionsResult Validate(string? name, CrmOptions options) =>
        options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}

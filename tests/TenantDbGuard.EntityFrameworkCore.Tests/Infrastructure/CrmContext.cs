using Microsoft.EntityFrameworkCore;

namespace TenantDbGuard.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>The <c>customers</c> table every test tenant has (<see cref="Runtime.Tests.Infrastructure.TenantLayout"/>).</summary>
public sealed class CrmContext(DbContextOptions<CrmContext> options) : DbContext(options)
{
    public DbSet<Customer> Customers => Set<Customer>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<Customer>(customer =>
        {
            customer.ToTable("customers");
            customer.Property(c => c.Id).HasColumnName("id");
            customer.Property(c => c.Name).HasColumnName("name").HasMaxLength(100);
        });
}

public sealed class Customer
{
    public int Id { get; set; }

    public string Name { get; set; } = "";
}

/// <summary>The tenant of a test's scope, as a request's would come from its route or header.</summary>
public sealed class CurrentTenant
{
    public string? Key { get; set; }
}

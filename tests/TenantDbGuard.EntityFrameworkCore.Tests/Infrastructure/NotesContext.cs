using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;

namespace TenantDbGuard.EntityFrameworkCore.Tests.Infrastructure;

/// <summary>A context whose table comes from a migration (<see cref="CreateNotes"/>), for the migration and creation tests.</summary>
public sealed class NotesContext(DbContextOptions<NotesContext> options) : DbContext(options)
{
    public const string Table = "ef_notes";

    public DbSet<Note> Notes => Set<Note>();

    /// <summary>Registers the context for the scope's tenant (the migration has no model snapshot, so EF Core's check of one is off).</summary>
    public static void Register(IServiceCollection services) =>
        services.AddTenantDbContext<NotesContext>(
            sp => sp.GetRequiredService<CurrentTenant>().Key ?? throw new InvalidOperationException("No tenant in this scope."),
            options => options.ContextOptions = (_, builder) => builder.ConfigureWarnings(w => w.Ignore(RelationalEventId.PendingModelChangesWarning)));

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<Note>(note =>
        {
            note.ToTable(Table);
            note.Property(n => n.Body).HasMaxLength(200);
        });
}

public sealed class Note
{
    public int Id { get; set; }

    public string Body { get; set; } = "";
}

[DbContext(typeof(NotesContext))]
[Migration("20261201000000_CreateNotes")]
public sealed class CreateNotes : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) =>
        migrationBuilder.CreateTable(
            name: NotesContext.Table,
            columns: table => new
            {
                Id = table.Column<int>(type: "int", nullable: false).Annotation("MySql:ValueGenerationStrategy", MySqlValueGenerationStrategy.IdentityColumn),
                Body = table.Column<string>(type: "varchar(200)", maxLength: 200, nullable: false),
            },
            constraints: table => table.PrimaryKey("PK_" + NotesContext.Table, n => n.Id));

    protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.DropTable(NotesContext.Table);
}

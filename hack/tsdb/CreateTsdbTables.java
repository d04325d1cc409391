/*
 * Creates OpenTSDB's four tables through HBase's Admin API, with the column families of OpenTSDB's
 * src/create_table.sh (compression NONE, ROW bloom filters, DIFF block encoding). Tables that exist are
 * left alone, so the tool can run before every TSD start.
 * Usage: java -cp "hbase/lib/*:tools" CreateTsdbTables ZK_HOST ZK_PORT
 */
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptor;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptorBuilder;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.client.TableDescriptorBuilder;
import org.apache.hadoop.hbase.io.encoding.DataBlockEncoding;
import org.apache.hadoop.hbase.regionserver.BloomType;
import org.apache.hadoop.hbase.util.Bytes;

public final class CreateTsdbTables {
  private static ColumnFamilyDescriptor family(String name, boolean oneVersion) {
    ColumnFamilyDescriptorBuilder b = ColumnFamilyDescriptorBuilder.newBuilder(Bytes.toBytes(name))
        .setBloomFilterType(BloomType.ROW)
        .setDataBlockEncoding(DataBlockEncoding.DIFF);
    if (oneVersion) {
      b.setMaxVersions(1);
    }
    return b.build();
  }

  public static void main(String[] args) throws Exception {
    Configuration conf = HBaseConfiguration.create();
    conf.set("hbase.zookeeper.quorum", args[0]);
    conf.set("hbase.zookeeper.property.clientPort", args[1]);
    conf.setInt("hbase.client.retries.number", 10);
    Map<String, List<ColumnFamilyDescriptor>> tables = Map.of(
        "tsdb", List.of(family("t", true)),
        "tsdb-uid", List.of(family("id", false), family("name", false)),
        "tsdb-tree", List.of(family("t", true)),
        "tsdb-meta", List.of(family("name", false)));
    try (Connection conn = ConnectionFactory.createConnection(conf); Admin admin = conn.getAdmin()) {
      for (Map.Entry<String, List<ColumnFamilyDescriptor>> e : tables.entrySet()) {
        TableName name = TableName.valueOf(e.getKey());
        if (admin.tableExists(name)) {
          System.out.println("exists: " + name);
          continue;
        }
        admin.createTable(TableDescriptorBuilder.newBuilder(name).setColumnFamilies(e.getValue()).build());
        System.out.println("created: " + name);
      }
    }
  }
}

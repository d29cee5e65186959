DROP TABLE products;
DROP FUNCTION products_refuse_delete();
